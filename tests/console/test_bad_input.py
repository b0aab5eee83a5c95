"""Whatever a form or an address holds, the console answers with a page in the 4xx
range (or a redirect), never a server error, and a refused write leaves nothing
half written."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from service.config import Settings
from tests.api.test_taper_plans import create, setup
from tests.conftest import Builders, FrozenClock, settings_for
from tests.console.conftest import Console


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


HUGE_INT = "9" * 5000
JUNK: dict[str, str] = {
    "blank": "",
    "text": "not a number",
    "huge-int": HUGE_INT,
    "huge-float": HUGE_INT + ".5",
    "negative": "-1",
    "nan": "nan",
    "inf": "1e999",
    "date": "2026-02-31",
    "uuid": "not-a-uuid",
    "nul": "a\x00b",
    "markup": "<script>x</script>\"'",
    "long": "x" * 3000,
}
FIELDS = (
    "name",
    "email",
    "date_of_birth",
    "timezone",
    "allergies",
    "pregnant",
    "loaded",
    "role",
    "password",
    "clinician_id",
    "drug",
    "dose.amount",
    "dose.unit",
    "route",
    "schedule.times",
    "schedule.every_n_days",
    "schedule.as_needed",
    "schedule.max_doses_per_day",
    "schedule.min_hours_between",
    "start_date",
    "end_date",
    "instructions",
    "acknowledge",
    "override_reason",
    "confirm_unlisted",
    "unlisted_reason",
    "prescription",
    "start_dose_mg",
    "target_dose_mg",
    "algorithm.kind",
    "algorithm.percent",
    "algorithm.step_mg",
    "algorithm.occupancy_step_pct",
    "algorithm.steps",
    "max_cut_pct",
    "floor_dose_mg",
    "interval_days",
    "slow_below_mg",
    "slow_interval_days",
    "times",
    "larger_dose_time",
    "formulations_from",
    "formulations.0.kind",
    "formulations.0.strength_mg",
    "formulations.0.divisible_by",
    "formulations.0.release",
    "formulations.0.mg_per_ml",
    "symptom_threshold",
    "approve_flagged",
    "reason",
    "days",
    "hold_days",
)
ROUTES = (
    "/console/patients/new",
    "/console/patients/{pat}/edit",
    "/console/patients/{pat}/prescribe",
    "/console/patients/{pat}/prescribe/check",
    "/console/patients/{pat}/tapers/preview",
    "/console/patients/{pat}/tapers/preview?tz={long}",
    "/console/patients/{pat}/tapers",
    "/console/patients/{pat}/tapers/{plan}/approve",
    "/console/patients/{pat}/tapers/{plan}/pause",
    "/console/patients/{pat}/tapers/{plan}/resume",
    "/console/patients/{pat}/tapers/{plan}/extend",
    "/console/patients/{pat}/tapers/{plan}/step-back",
    "/console/patients/{pat}/tapers/{plan}/cancel",
)
ADMIN_ROUTES = (
    "/console/admin/staff",
    "/console/admin/staff/{doc}/deactivate",
    "/console/admin/staff/{other}/reactivate",
    "/console/admin/care-teams/{pat}/members",
    "/console/admin/care-teams/{pat}/members/{other}/remove",
)


def _forms(rx_id: str) -> list[Any]:
    """Every field set to one kind of junk, plus a few shapes: one field repeated,
    a valid prescription id with junk around it, and the htmx variant."""
    out: list[Any] = []
    for kind, value in JUNK.items():
        form: dict[str, str] = dict.fromkeys(FIELDS, value)
        out.append(pytest.param(form, id=kind))
        out.append(pytest.param({**form, "prescription": rx_id}, id=f"{kind}-rx"))
    repeated = MultiDict([(f, v) for f in FIELDS for v in ("1", "x", "")])
    out.append(pytest.param(repeated, id="repeated"))
    return out


def _world(make: Builders, clock: FrozenClock) -> dict[str, Any]:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx)
    assert plan.status_code == 201, plan.json
    return {"doc": doc, "pat": pat, "rx": rx, "plan": plan.json}


def _paths(world: dict[str, Any], routes: tuple[str, ...]) -> list[str]:
    names = {
        "pat": world["pat"].patient_id,
        "plan": world["plan"]["id"],
        "doc": world["doc"].id,
        "other": uuid.uuid4(),
        "long": "a" * 300,
    }
    return [r.format(**names) for r in routes]


def _signed_in(console: Console, who: Any) -> None:
    """Signed in, holding the token of the new sign-in's session (signing in starts a
    new session, so the sign-in page's token is no longer good)."""
    console.sign_in(who)
    console.get("/console/patients")


def _post(console: Console, path: str, form: Any, htmx: bool) -> int:
    """The status of the answer; 400 (the CSRF refusal) would mean the form was never
    read, so it fails the test as a server error does."""
    data = MultiDict(form)
    data.setlist("csrf_token", [console.token])
    headers = {"HX-Request": "true"} if htmx else {}
    status = console.client.post(path, data=data, headers=headers).status_code
    return 599 if status == 400 else status


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_junk_posted_to_every_form_is_refused_without_a_server_error(
    console: Console, make: Builders, clock: FrozenClock, htmx: bool
) -> None:
    world = _world(make, clock)
    _signed_in(console, world["doc"])
    failures = []
    for path in _paths(world, ROUTES):
        for param in _forms(world["rx"]["id"]):
            form = param.values[0]
            status = _post(console, path, form, htmx)
            if status >= 500:
                failures.append((path[:80], param.id, status))
    assert failures == [], "\n".join(map(str, failures))


def test_junk_posted_to_the_admin_forms_is_refused_without_a_server_error(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    world = _world(make, clock)
    _signed_in(console, make.admin())
    failures = []
    for path in _paths(world, ADMIN_ROUTES):
        for param in _forms(world["rx"]["id"]):
            status = _post(console, path, param.values[0], htmx=False)
            if status >= 500:
                failures.append((path[:80], param.id, status))
    assert failures == [], "\n".join(map(str, failures))


BAD_ADDRESSES = (
    "/console/patients/{pat}?week=99999-01-01",
    "/console/patients/{pat}?week=2026-02-31",
    "/console/patients/{pat}?audit_page=" + HUGE_INT,
    "/console/patients/{pat}?audit_page=-1",
    "/console/patients?offset=" + HUGE_INT,
    "/console/patients?offset=-5&q=%00",
    "/console/patients/{pat}/tapers/new?prescription=nope",
    "/console/patients/{pat}/tapers/new?prescription={other}",
    "/console/patients/{pat}/tapers/{other}",
    "/console/drugs?q=" + "x" * 5000,
    "/console/login?next=//evil.example",
)


def test_junk_addresses_are_refused_without_a_server_error(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    world = _world(make, clock)
    console.sign_in(world["doc"])
    failures = []
    for path in _paths(world, BAD_ADDRESSES):
        for headers in ({}, {"HX-Request": "true", "HX-Target": "week"}):
            status = console.client.get(path, headers=headers).status_code
            if status >= 500:
                failures.append((path[:80], status))
    assert failures == [], "\n".join(map(str, failures))


def test_a_form_over_the_size_limit_is_refused_with_a_page(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    world = _world(make, clock)
    _signed_in(console, world["doc"])
    before = make.client.get(
        f"/v1/patients/{world['pat'].patient_id}/prescriptions", headers=world["doc"].headers
    ).json
    r = console.post(
        f"/console/patients/{world['pat'].patient_id}/prescribe",
        {"drug": "diazepam", "instructions": "x" * 10_000_000},
    )
    assert r.status_code == 413
    assert r.mimetype == "text/html"
    assert "<h1>" in r.get_data(as_text=True)
    after = make.client.get(
        f"/v1/patients/{world['pat'].patient_id}/prescriptions", headers=world["doc"].headers
    ).json
    assert after == before


def test_the_day_fields_take_their_bounds_from_the_api_schemas(
    console: Console, make: Builders, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marshmallow import validate

    from service.web.schemas.tapers import ExtendSchema
    from tests.api.test_taper_plans import act, approval

    world = _world(make, clock)
    plan = world["plan"]
    # Approved: the plan takes an extension (a step back once it runs).
    r = act(make, world["doc"], plan, "approve", **approval(plan))
    assert r.status_code == 200, r.json
    # The page offers what the schemas allow, not numbers of its own.
    monkeypatch.setattr(
        ExtendSchema._declared_fields["days"], "validators", [validate.Range(2, 40)]
    )
    _signed_in(console, world["doc"])
    html = console.get(f"/console/patients/{world['pat'].patient_id}/tapers/{plan['id']}").get_data(
        as_text=True
    )
    assert 'name="days" type="number" value="" min="2" max="40"' in html
    assert "2 to 40 more days" in html
