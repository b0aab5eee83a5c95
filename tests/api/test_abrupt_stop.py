"""The abrupt-stop guard on every door that changes a prescription (docs/clinical.md,
"The abrupt-stop guard"): PATCH of the end date, the dose or the schedule, pause and
discontinue, for a patient on diazepam 5 mg twice a day with no taper plan."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from werkzeug.test import TestResponse

from service.config import Settings
from service.db.uow import Database
from tests.conftest import Account, Builders, FrozenClock, prescription_body, settings_for

Count = Callable[[str], int]
TWICE_A_DAY = {
    "times": ["08:00", "20:00"],
    "every_n_days": 1,
    "days_of_week": None,
    "as_needed": False,
    "max_doses_per_day": None,
    "min_hours_between": None,
    "amounts": None,
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Tokens that outlive the clock moving on two weeks.
    return settings_for(database_url, token_ttl_seconds=60 * 86400)


def on_diazepam(make: Builders) -> tuple[Account, Account, dict[str, Any]]:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(
        doc, pat, drug="Valium", dose={"amount": 5, "unit": "mg"}, schedule=TWICE_A_DAY
    )
    return doc, pat, rx


def url(pat: Account, rx: dict[str, Any], tail: str = "") -> str:
    return f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}{tail}"


def overrides(database: Database) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT after FROM audit_events "
                "WHERE subtype = 'prescription.abrupt-stop-override' ORDER BY id"
            )
        ).scalars()
        return [r if isinstance(r, dict) else json.loads(r) for r in rows]


def refused(r: TestResponse, kind: str, start_mg: float = 10) -> dict[str, Any]:
    """409 with one abrupt-stop finding that says how to plan a taper instead."""
    assert r.status_code == 409, r.get_json()
    body: dict[str, Any] = r.get_json()
    assert "abrupt_stop_reason" in body["errors"]
    (finding,) = body["findings"]
    assert (finding["kind"], finding["severity"]) == ("abrupt-stop", "contraindicated")
    assert finding["rule"] == f"abrupt-stop:{kind}"
    assert finding["drugs"][0]["ingredients"] == ["diazepam"]
    hint = finding["taper_preview"]
    assert hint["endpoint"] == "/v1/taper-plans/preview"
    assert hint["settings"]["drug"] == "diazepam"
    assert hint["settings"]["start_dose_mg"] == start_mg
    assert hint["settings"]["max_cut_pct"] == 25
    assert "/v1/taper-plans/preview" in finding["management"]
    return finding


def tomorrow(clock: FrozenClock) -> str:
    return (clock.now.date() + dt.timedelta(days=2)).isoformat()


SIDE_DOORS: list[tuple[str, str, Callable[[FrozenClock], dict[str, Any]], str]] = [
    ("patch", "", lambda c: {"end_date": tomorrow(c)}, "end-date"),
    ("patch", "", lambda c: {"dose": {"amount": 0.5, "unit": "mg"}}, "dose-cut"),
    ("patch", "", lambda c: {"schedule": {**TWICE_A_DAY, "times": ["08:00"]}}, "dose-cut"),
    ("patch", "", lambda c: {"schedule": {**TWICE_A_DAY, "every_n_days": 3}}, "dose-cut"),
    (
        "patch",
        "",
        lambda c: {
            "schedule": {
                **TWICE_A_DAY,
                "times": [],
                "as_needed": True,
                "max_doses_per_day": 2,
            }
        },
        "dose-cut",
    ),
    ("patch", "", lambda c: {"dose": {"amount": 5000, "unit": "mcg"}}, "none"),
    ("post", "/pause", lambda c: {"reason": "surgery"}, "open-ended-pause"),
    ("post", "/discontinue", lambda c: {"reason": "no longer needed"}, "discontinue"),
]


@pytest.mark.parametrize(
    ("method", "tail", "body", "kind"),
    SIDE_DOORS,
    ids=[
        "end-date",
        "dose-cut-90pct",
        "one-time-a-day",
        "every-third-day",
        "as-needed",
        "same-dose-in-mcg",
        "open-pause",
        "discontinue",
    ],
)
def test_each_side_door_needs_a_taper_or_a_reason(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    count_rows: Count,
    method: str,
    tail: str,
    body: Callable[[FrozenClock], dict[str, Any]],
    kind: str,
) -> None:
    doc, pat, rx = on_diazepam(make)
    send = getattr(make.client, method)
    r = send(url(pat, rx, tail), json=body(clock), headers=doc.headers)
    if kind == "none":
        # 5,000 mcg is the same 5 mg: no cut, no question.
        assert r.status_code == 200, r.get_json()
        return
    refused(r, kind)
    assert count_rows("prescription_versions") == 1, "nothing is written"
    reason = "paradoxical agitation; stopping under observation"
    r = send(
        url(pat, rx, tail), json={**body(clock), "abrupt_stop_reason": reason}, headers=doc.headers
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["abrupt_stop_reason"] == reason
    (audited,) = overrides(database)
    assert audited["abrupt_stop_reason"] == reason
    assert audited["change"] == kind
    assert audited["drug"] == "Valium"


@pytest.mark.parametrize(
    "change",
    [
        {"dose": {"amount": 10, "unit": "mg"}},
        {"dose": {"amount": 3.75, "unit": "mg"}},
        {"instructions": "with water"},
        {"schedule": {**TWICE_A_DAY, "times": ["09:00", "21:00"]}},
    ],
    ids=["raise", "cut-25pct", "instructions", "new-times"],
)
def test_raising_small_cuts_and_other_changes_pass(make: Builders, change: dict[str, Any]) -> None:
    doc, pat, rx = on_diazepam(make)
    r = make.client.patch(url(pat, rx), json=change, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["abrupt_stop_reason"] is None


def test_a_pause_with_a_resume_date_is_not_a_stop(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = on_diazepam(make)
    body = {"reason": "procedure", "resume_on": tomorrow(clock)}
    r = make.client.post(url(pat, rx, "/pause"), json=body, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["resume_on"] == tomorrow(clock)
    past = {
        "reason": "procedure",
        "resume_on": (clock.now.date() - dt.timedelta(days=1)).isoformat(),
    }
    doc, pat, rx = on_diazepam(make)
    r = make.client.post(url(pat, rx, "/pause"), json=past, headers=doc.headers)
    assert r.status_code == 422
    assert "resume_on" in r.get_json()["errors"]


def test_drugs_without_withdrawal_risk_stop_freely(make: Builders, clock: FrozenClock) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat, drug="atorvastatin", dose={"amount": 20, "unit": "mg"})
    r = make.client.patch(url(pat, rx), json={"end_date": tomorrow(clock)}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    r = make.client.post(url(pat, rx, "/pause"), json={"reason": "myalgia"}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()


def test_an_end_date_moved_later_is_not_a_new_stop(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = on_diazepam(make)
    first = {"end_date": tomorrow(clock), "abrupt_stop_reason": "short course"}
    assert make.client.patch(url(pat, rx), json=first, headers=doc.headers).status_code == 200
    later = (clock.now.date() + dt.timedelta(days=30)).isoformat()
    r = make.client.patch(url(pat, rx), json={"end_date": later}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    r = make.client.patch(url(pat, rx), json={"end_date": tomorrow(clock)}, headers=doc.headers)
    refused(r, "end-date")


def test_the_suggested_taper_is_a_body_the_preview_takes(make: Builders) -> None:
    doc, pat, rx = on_diazepam(make)
    r = make.client.post(url(pat, rx, "/discontinue"), json={"reason": "r"}, headers=doc.headers)
    hint = refused(r, "discontinue")["taper_preview"]
    preview = make.client.post(hint["endpoint"], json=hint["settings"], headers=doc.headers)
    assert preview.status_code == 200, preview.get_json()
    steps = preview.get_json()["steps"]
    assert steps[0]["daily_dose_mg"] == 10
    assert steps[-1]["daily_dose_mg"] == 0
    assert [a["time"] for a in steps[0]["administrations"]] == ["08:00", "20:00"]


def test_small_cuts_add_up_over_the_cap_window(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = on_diazepam(make)  # 10 mg a day
    for amount in (4, 3.5):  # 20 % then, from 10 mg, 30 %
        r = make.client.patch(
            url(pat, rx), json={"dose": {"amount": amount, "unit": "mg"}}, headers=doc.headers
        )
        if amount == 4:
            assert r.status_code == 200, r.get_json()
    finding = refused(r, "dose-cut", start_mg=8)
    assert "10 mg a day" in finding["mechanism"]
    # Two weeks on, the window holds only the 8 mg a day: 7 mg is a 12.5 % cut.
    clock.now += dt.timedelta(days=15)
    r = make.client.patch(
        url(pat, rx), json={"dose": {"amount": 3.5, "unit": "mg"}}, headers=doc.headers
    )
    assert r.status_code == 200, r.get_json()


def test_moving_the_start_later_is_a_stop(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = on_diazepam(make)
    later = (clock.now.date() + dt.timedelta(days=60)).isoformat()
    r = make.client.patch(url(pat, rx), json={"start_date": later}, headers=doc.headers)
    refused(r, "start-deferred")


def test_a_change_during_a_pause_keeps_its_resume_date(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = on_diazepam(make)
    body = {"reason": "procedure", "resume_on": tomorrow(clock)}
    assert (
        make.client.post(url(pat, rx, "/pause"), json=body, headers=doc.headers).status_code == 200
    )
    r = make.client.patch(url(pat, rx), json={"instructions": "with water"}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["resume_on"]) == ("paused", tomorrow(clock))


def test_an_unlisted_name_that_reveals_a_withdrawal_risk_drug_is_guarded(
    make: Builders,
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions",
        json=prescription_body(
            drug="diazepam compounded suspension",
            dose={"amount": 5, "unit": "mg"},
            schedule=TWICE_A_DAY,
            confirm_unlisted=True,
            unlisted_reason="compounded",
        ),
        headers=doc.headers,
    )
    if r.status_code == 201:
        rx = r.get_json()
    else:
        raise AssertionError(r.get_json())
    assert rx["screening"] == "partial"
    assert rx["ingredients"] == ["diazepam"]
    r = make.client.post(url(pat, rx, "/discontinue"), json={"reason": "r"}, headers=doc.headers)
    refused(r, "discontinue")
