"""A cancelled taper plan's page says nothing is dispensed for it, as the API's 409."""

from __future__ import annotations

from tests.api.test_taper_plans import act, create, setup
from tests.conftest import Builders, FrozenClock
from tests.console.conftest import Console


def test_a_cancelled_plan_s_page_says_nothing_is_dispensed(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    assert act(make, doc, plan, "cancel", reason="no").status_code == 200
    assert console.sign_in(doc).status_code == 302
    url = f"/console/patients/{pat.patient_id}/tapers/{plan['id']}"
    page = console.get(url)
    assert page.status_code == 200
    assert "The plan was cancelled: nothing is dispensed for it." in page.get_data(as_text=True)
    fragment = console.get(f"{url}/dispensing", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "nothing is dispensed" in fragment.get_data(as_text=True)
    assert console.get(f"{url}/dispensing.csv").status_code == 409
