"""Taper plans of a prescription over HTTP: draft, approve, pause, resume, extend,
cancel; versions kept and audited; ended steps unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from tests.conftest import Account, Builders, FrozenClock, settings_for


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the weeks these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def taper(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "start_dose_mg": 20,
        "algorithm": {"kind": "percent", "percent": 25},
        "max_cut_pct": 25,
        "floor_dose_mg": 2,
        "interval_days": 14,
        "start_date": "2026-06-15",
        "formulations": [{"kind": "tablet", "strength_mg": 5, "divisible_by": 2}],
    }
    body.update(overrides)
    return body


def setup(make: Builders, clock: FrozenClock) -> tuple[Account, Account, dict[str, Any]]:
    clock.now = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    return doc, pat, rx


def create(make: Builders, doc: Account, pat: Account, rx: dict[str, Any], **kw: Any) -> Any:
    return make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json=taper(**kw),
        headers=doc.headers,
    )


def approval(plan: dict[str, Any]) -> dict[str, Any]:
    """An approval of everything the draft asks to approve: each step over the cap the
    clinician chose, and each note that needs approval (as the README tells a client)."""
    return {
        "approve_flagged": [
            s["index"] for s in plan["steps"] if "exceeds_cap_needs_approval" in s["flags"]
        ],
        "acknowledge": [n["code"] for n in plan["notes"] if n["needs_approval"]],
    }


def act(make: Builders, who: Account, plan: dict[str, Any], action: str, **body: Any) -> Any:
    return make.client.post(
        f"/v1/taper-plans/{plan['id']}/{action}", json=body, headers=who.headers
    )


# Cuts of a third, a half and all of the dose: over the 25% cap by the clinician's
# choice (not the measuring grid's), so each needs approval one by one.
STEEP = {
    "kind": "manual",
    "steps": [
        {"daily_dose_mg": 20, "days": 14},
        {"daily_dose_mg": 15, "days": 14},
        {"daily_dose_mg": 10, "days": 14},
        {"daily_dose_mg": 5, "days": 14},
        {"daily_dose_mg": 0, "days": 14},
    ],
}


def test_a_draft_is_approved_with_every_flagged_step_listed(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    r = create(make, doc, pat, rx, algorithm=STEEP)
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    assert (plan["status"], plan["version"], plan["drug"]) == ("draft", 1, "diazepam")
    assert plan["steps"][0]["daily_dose_mg"] == 20
    assert plan["steps"][-1]["daily_dose_mg"] == 0
    flagged = [s["index"] for s in plan["steps"] if "exceeds_cap_needs_approval" in s["flags"]]
    assert flagged == [2, 3, 4], "a third, a half and all of the dose: over the 25% cap"

    refused = act(make, doc, plan, "approve", approve_flagged=flagged[:-1])
    assert refused.status_code == 409, refused.get_json()
    assert str(flagged[-1]) in refused.get_json()["message"]
    wrong = act(make, doc, plan, "approve", approve_flagged=[*flagged, 0])
    assert wrong.status_code == 422, wrong.get_json()
    r = act(make, doc, plan, "approve", approve_flagged=flagged, reason="reviewed with patient")
    assert r.status_code == 200, r.get_json()
    approved = r.get_json()
    assert (approved["status"], approved["version"]) == ("approved", 2)
    assert approved["approved_steps"] == flagged
    assert [v["change"] for v in approved["versions"]] == ["create", "approve"]
    with database.engine.connect() as conn:
        subtypes = [
            r[0]
            for r in conn.execute(
                text("SELECT subtype FROM audit_events WHERE entity_id = :id ORDER BY id"),
                {"id": str(plan["id"])},
            )
        ]
    assert subtypes == ["taper.create", "taper.approve"]


def test_pause_then_resume_holds_the_current_step_for_as_long_as_the_pause(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    act(make, doc, plan, "approve", **approval(plan))
    clock.now = dt.datetime(2026, 7, 1, 12, tzinfo=dt.UTC)  # in step 1 (06-29 to 07-12)
    before = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=doc.headers).get_json()
    assert (before["status"], before["current_step"]) == ("approved", 1)
    paused = act(make, doc, plan, "pause", reason="withdrawal symptoms")
    assert paused.status_code == 200, paused.get_json()
    assert paused.get_json()["status"] == "paused"
    assert act(make, doc, plan, "pause", reason="again").status_code == 409
    clock.now += dt.timedelta(days=5)
    resumed = act(make, doc, plan, "resume", reason="symptoms settled").get_json()
    assert resumed["status"] == "active"
    old, new = before["steps"], resumed["steps"]
    assert new[:1] == old[:1], "a step that has ended never changes"
    assert new[1]["start_date"] == old[1]["start_date"]
    assert dt.date.fromisoformat(new[1]["end_date"]) - dt.date.fromisoformat(
        old[1]["end_date"]
    ) == dt.timedelta(days=5)
    assert "extended" in new[1]["flags"]
    assert dt.date.fromisoformat(new[2]["start_date"]) - dt.date.fromisoformat(
        old[2]["start_date"]
    ) == dt.timedelta(days=5)
    assert resumed["total_days"] == before["total_days"] + 5


def test_extend_lengthens_today_s_step_and_cancel_ends_the_plan(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    r = act(make, doc, plan, "extend", days=7, reason="patient travelling")
    assert r.status_code == 200, r.get_json()
    extended = r.get_json()
    assert extended["steps"][0]["days"] == plan["steps"][0]["days"] + 7
    assert extended["status"] == "draft"
    for days in (0, 91):
        assert act(make, doc, plan, "extend", days=days).status_code == 422
    cancelled = act(make, doc, plan, "cancel", reason="switching drug").get_json()
    assert cancelled["status"] == "cancelled"
    assert act(make, doc, plan, "resume", reason="x").status_code == 409
    assert create(make, doc, pat, rx).status_code == 201, "a new plan after a cancelled one"


def test_who_may_see_and_change_a_plan(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    assert make.client.get(f"/v1/taper-plans/{plan['id']}", headers=pat.headers).status_code == 200
    assert act(make, pat, plan, "approve", approve_flagged=[]).status_code == 403
    stranger = make.clinician()
    assert (
        make.client.get(f"/v1/taper-plans/{plan['id']}", headers=stranger.headers).status_code
        == 404
    )
    assert act(make, stranger, plan, "cancel", reason="x").status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"drug": "sertraline"}, "drug"),
        ({"start_dose_mg": 7.3}, "start_dose_mg"),
        ({"start_dose_mg": 30}, "start_dose_mg"),
        ({"algorithm": {"kind": "hyperbolic", "occupancy_step_pct": 10}}, "algorithm.kind"),
    ],
)
def test_invalid_plans_are_refused_and_nothing_is_stored(
    make: Builders, clock: FrozenClock, count_rows: Any, overrides: dict[str, Any], field: str
) -> None:
    doc, pat, rx = setup(make, clock)
    r = create(make, doc, pat, rx, **overrides)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]
    assert count_rows("taper_plans") == 0
