"""The taper planner in the console: the settings filled in from a prescription, a
live preview that stores nothing, a draft saved as through the JSON API (the same
refusals, the same audit entries), and another team's patients and plans not found.
A plan's own page and its changes are tested in test_tapers_plan."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import pytest
from werkzeug.test import TestResponse

from service.config import Settings
from service.db.uow import Database
from tests.api.test_taper_plans import approval, create, setup, taper
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.console.conftest import Console, audited_writes

_PLAN_PAGE = re.compile(r"/console/patients/([0-9a-f-]{36})/tapers/([0-9a-f-]{36})$")


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the weeks these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


def planner_form(rx: dict[str, Any], **overrides: str) -> dict[str, str]:
    """The planner's fields for `taper()` of the API's tests, as a clinician fills them in."""
    form = {
        "prescription": rx["id"],
        "drug": "diazepam",
        "start_dose_mg": "20",
        "target_dose_mg": "0",
        "algorithm.kind": "percent",
        "algorithm.percent": "25",
        "max_cut_pct": "25",
        "floor_dose_mg": "2",
        "interval_days": "14",
        "start_date": "2026-06-15",
        "times": "08:00, 20:00",
        "formulations_from": "listed",
        "formulations.0.kind": "tablet",
        "formulations.0.strength_mg": "5",
        "formulations.0.divisible_by": "2",
        "formulations.0.release": "immediate",
    }
    form.update(overrides)
    return form


def base(pat: Account) -> str:
    return f"/console/patients/{pat.patient_id}/tapers"


def save_draft(console: Console, pat: Account, form: dict[str, str]) -> uuid.UUID:
    r = console.post(base(pat), form)
    assert r.status_code == 302, r.get_data(as_text=True)
    found = _PLAN_PAGE.search(r.headers["Location"])
    assert found, r.headers["Location"]
    assert found.group(1) == str(pat.patient_id)
    return uuid.UUID(found.group(2))


def change(
    console: Console, pat: Account, plan_id: uuid.UUID, action: str, **form: Any
) -> TestResponse:
    return console.post(f"{base(pat)}/{plan_id}/{action}", form)


def plan_json(make: Builders, who: Account, plan_id: uuid.UUID) -> dict[str, Any]:
    r = make.client.get(f"/v1/taper-plans/{plan_id}", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    found: dict[str, Any] = r.get_json()
    return found


def plans_stored(database: Database) -> int:
    from sqlalchemy import text

    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM taper_plans")).scalar_one())


class Writes:
    """The audited writes of two patients from now on, one driven through the console
    and one through the API (before now: their records and prescriptions, which
    differ by name and e-mail)."""

    def __init__(self, database: Database, ours: Account, theirs: Account) -> None:
        self.database, self.ours, self.theirs = database, ours, theirs
        self.skip = len(audited_writes(database, ours.patient_id))
        assert self.skip == len(audited_writes(database, theirs.patient_id))

    def of(self, pat: Account) -> list[dict[str, Any]]:
        return audited_writes(self.database, pat.patient_id)[self.skip :]

    def assert_same(self) -> None:
        ours = self.of(self.ours)
        assert ours, "the console wrote something"
        assert ours == self.of(self.theirs)


def shown(r: TestResponse) -> str:
    """The page's text as a reader sees it (entities decoded)."""
    return unescape(r.get_data(as_text=True))


def test_the_planner_is_filled_in_from_the_prescription_and_previews_it(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 5, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
    )
    r = console.get(f"{base(pat)}/new?prescription={rx['id']}")
    assert r.status_code == 200, r.get_data(as_text=True)
    html = r.get_data(as_text=True)
    assert 'name="start_dose_mg" type="text" value="10"' in html, "5 mg twice a day"
    assert 'value="08:00, 20:00"' in html
    assert '<option value="percent" selected>' in html
    assert 'id="preview"' in html
    assert "<caption>Steps</caption>" in html
    assert "<svg" in html
    assert ">Save draft</button>" in html
    assert plans_stored(database) == 0


def test_the_live_preview_shows_the_chart_and_the_steps_and_stores_nothing(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    pat = make.patient(doc)
    rx = make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 5, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
    )
    assert console.get(f"{base(pat)}/new?prescription={rx['id']}").status_code == 200
    before = audited_writes(database, pat.patient_id)
    form = planner_form(rx, start_dose_mg="10", start_date="2026-12-01", floor_dose_mg="1")
    r = console.htmx("POST", f"{base(pat)}/preview?tz=Europe/London", form)
    assert r.status_code == 200, r.get_data(as_text=True)
    fragment = r.get_data(as_text=True)
    assert "<html" not in fragment, "a fragment for #preview, not a page"
    assert "<caption>Steps</caption>" in fragment
    svg = fragment[fragment.index("<svg") : fragment.index("</svg>")]
    assert 'role="img"' in svg
    assert "style=" not in svg, "the strict CSP allows no inline style"
    assert "<style" not in svg
    assert "<script" not in fragment
    api = make.client.post(
        "/v1/taper-plans/preview",
        json={
            **taper(start_dose_mg=10, floor_dose_mg=1, start_date="2026-12-01"),
            "drug": "diazepam",
        },
        headers=doc.headers,
    ).get_json()
    rows = re.findall(r'<tr id="step-(\d+)"', fragment)
    assert [int(i) for i in rows] == [s["index"] for s in api["steps"]]
    assert f'data-step="{api["steps"][-1]["index"]}"' in svg
    assert "2026-12-01" in fragment
    assert plans_stored(database) == 0
    assert audited_writes(database, pat.patient_id) == before


def test_invalid_settings_answer_a_422_fragment_naming_the_field(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    console.sign_in(doc)
    assert console.get(f"{base(pat)}/new?prescription={rx['id']}").status_code == 200
    r = console.htmx("POST", f"{base(pat)}/preview", planner_form(rx, max_cut_pct="150"))
    assert r.status_code == 422
    fragment = r.get_data(as_text=True)
    assert "<html" not in fragment
    assert 'href="#f-max_cut_pct"' in fragment
    assert "Cap on the cuts in any 14 days (%)" in fragment
    assert "less than or equal to 100" in fragment
    # A rule of the use case, not of the schema: no occupancy model for diazepam.
    r = console.htmx(
        "POST",
        f"{base(pat)}/preview",
        planner_form(rx, **{"algorithm.kind": "hyperbolic", "algorithm.occupancy_step_pct": "10"}),
    )
    assert r.status_code == 422
    assert "No occupancy model for" in r.get_data(as_text=True)
    # Manual steps: the line and the part of it that is wrong.
    manual = {"algorithm.kind": "manual", "algorithm.steps": "20, 14\n10 mg"}
    r = console.htmx("POST", f"{base(pat)}/preview", planner_form(rx, **manual))
    assert r.status_code == 422
    assert "Manual steps</a>: Line 2, days: Missing data for required field." in shown(r)
    # Without script, the whole planner comes back with the error beside its field.
    r = console.post(f"{base(pat)}/preview", planner_form(rx, interval_days="two"))
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "<h1>" in page
    assert 'id="e-interval_days"' in page
    assert 'value="two"' in page, "what was typed is kept"


def test_save_draft_stores_the_api_s_draft_and_shows_its_page(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    api_doc, api_pat, api_rx = setup(make, clock)
    writes = Writes(database, pat, api_pat)
    console.sign_in(doc)
    console.get(f"{base(pat)}/new?prescription={rx['id']}")
    plan_id = save_draft(console, pat, planner_form(rx))
    page = console.get(f"{base(pat)}/{plan_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Draft saved" in html
    assert "<caption>Steps</caption>" in html
    assert "<svg" in html
    assert '<h2 id="reports-heading">Symptom reports</h2>' in html
    assert ">Approve plan</button>" in html
    stored = plan_json(make, doc, plan_id)
    # The body the form makes: taper() with the target, drug and times filled in.
    same = {"target_dose_mg": 0, "drug": "diazepam", "times": ["08:00", "20:00"]}
    from_api = create(make, api_doc, api_pat, api_rx, **same).get_json()
    assert (stored["status"], stored["version"]) == ("draft", 1)
    assert stored["steps"] == from_api["steps"]
    assert stored["settings"] == from_api["settings"]
    writes.assert_same()


def test_a_draft_the_api_refuses_is_refused_with_the_same_words(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    console.sign_in(doc)
    console.get(f"{base(pat)}/new?prescription={rx['id']}")
    for overrides, body, field in (
        ({"start_dose_mg": "30"}, {"start_dose_mg": 30}, "start_dose_mg"),
        ({"start_date": "2026-06-01"}, {"start_date": "2026-06-01"}, "start_date"),
        ({"symptom_threshold": "41"}, {"symptom_threshold": 41}, "symptom_threshold"),
    ):
        api = create(make, doc, pat, rx, **body)
        r = console.post(base(pat), planner_form(rx, **overrides))
        assert r.status_code == api.status_code == 422, (field, api.get_json())
        assert api.get_json()["message"] in shown(r)
        assert f'id="e-{field}"' in r.get_data(as_text=True), field
    assert plans_stored(database) == 0


def test_another_team_s_patient_and_plan_are_not_found(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    stranger = make.clinician()
    own = make.patient(stranger)
    console.sign_in(stranger)
    assert console.get(f"{base(pat)}/new?prescription={rx['id']}").status_code == 404
    assert console.get(f"{base(pat)}/{plan['id']}").status_code == 404
    # The plan under the stranger's own patient: still not theirs.
    assert console.get(f"{base(own)}/{plan['id']}").status_code == 404
    assert console.post(base(pat), planner_form(rx)).status_code == 404
    for action, body in (("approve", approval(plan)), ("cancel", {"reason": "x"})):
        assert change(console, pat, plan["id"], action, **body).status_code == 404
        assert change(console, own, plan["id"], action, **body).status_code == 404
    after = plan_json(make, doc, plan["id"])
    assert (after["status"], after["version"]) == ("draft", 1)
    assert plans_stored(database) == 1


def test_a_plan_is_found_only_under_its_own_patient(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    other = make.patient(doc)
    console.sign_in(doc)
    assert console.get(f"{base(pat)}/{plan['id']}").status_code == 200
    assert console.get(f"{base(other)}/{plan['id']}").status_code == 404
    assert change(console, other, plan["id"], "cancel", reason="x").status_code == 404
    assert plan_json(make, doc, plan["id"])["status"] == "draft"
