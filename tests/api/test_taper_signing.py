"""Taper plans a clinician would sign, over HTTP: one release form, tablets before the
liquid, the cap over any 14 days, per-drug floors, honest notes, and approval of what
the plan asks to approve (docs/clinical.md, "Taper planner")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import pairwise
from typing import Any

from tests.api.test_taper_plans import act, approval, setup
from tests.api.test_taper_preview import URL, body
from tests.conftest import Builders, FrozenClock


def preview(make: Builders, **overrides: Any) -> Any:
    return make.client.post(URL, json=body(**overrides), headers=make.clinician().headers)


def planned(make: Builders, **overrides: Any) -> dict[str, Any]:
    r = preview(make, **overrides)
    assert r.status_code == 200, r.get_json()
    found: dict[str, Any] = r.get_json()
    return found


def d(value: float) -> Decimal:
    return Decimal(str(value))


def used(plan: dict[str, Any]) -> set[str]:
    return {
        c["formulation"]
        for s in plan["steps"]
        for a in s["administrations"]
        for c in a["components"]
    }


def codes(plan: dict[str, Any]) -> list[str]:
    return [n["code"] for n in plan["notes"]]


def test_default_previews_never_mix_release_forms(make: Builders) -> None:
    # Paroxetine and carvedilol have immediate- and extended-release products; a plan
    # keeps to the immediate-release ones unless the clinician lists both.
    for drug, start in (("paroxetine", 20), ("carvedilol", 50)):
        plan = planned(make, drug=drug, start_dose_mg=start, floor_dose_mg=0, times=["08:00"])
        assert used(plan), drug
        assert not any("-er " in f for f in used(plan)), (drug, used(plan))
    listed = [
        {"kind": "tablet", "strength_mg": 25, "release": "extended"},
        {"kind": "tablet", "strength_mg": 12.5, "divisible_by": 2},
    ]
    plan = planned(make, drug="carvedilol", start_dose_mg=50, floor_dose_mg=0, formulations=listed)
    assert "tablet-er 25 mg" in used(plan)


def test_an_extended_release_tablet_is_never_split(make: Builders) -> None:
    listed = [{"kind": "tablet", "strength_mg": 25, "release": "extended", "divisible_by": 2}]
    r = preview(make, drug="paroxetine", start_dose_mg=25, formulations=listed)
    assert r.status_code == 422, r.get_json()
    assert "formulations.0.divisible_by" in r.get_json()["errors"]


def test_tablets_first_and_the_liquid_only_for_the_tail(make: Builders) -> None:
    plan = planned(make, drug="diazepam", start_dose_mg=40, floor_dose_mg=0, times=["08:00"])
    liquid = [
        any(c["ml"] is not None for a in s["administrations"] for c in a["components"])
        for s in plan["steps"]
    ]
    first = liquid.index(True)
    assert d(plan["steps"][first - 1]["daily_dose_mg"]) < 10, "tablets until the tail"
    tail = plan["steps"][first:]
    broken = [
        c
        for s in tail
        for a in s["administrations"]
        for c in a["components"]
        if c["units"] is not None and d(c["units"]) % 1
    ]
    assert not broken, "in the tail, a measured volume rather than broken tablets"
    for s in plan["steps"]:
        for a in s["administrations"]:
            parts = [c for c in a["components"] if c["units"] is not None]
            if any(c["ml"] is not None for c in a["components"]):
                assert all(d(c["units"]) % 1 == 0 for c in parts), "no broken tablet with a volume"


def test_per_time_amounts_never_rise_and_the_larger_goes_where_asked(make: Builders) -> None:
    for larger in ("08:00", "20:00"):
        plan = planned(make, start_dose_mg=20, larger_dose_time=larger)
        for before, step in pairwise(plan["steps"]):
            for a, b in zip(before["administrations"], step["administrations"], strict=True):
                assert d(b["dose_mg"]) <= d(a["dose_mg"]), (step["index"], a["time"])
        uneven = [
            s["administrations"]
            for s in plan["steps"]
            if len({a["dose_mg"] for a in s["administrations"]}) > 1
        ]
        assert uneven
        assert all(max(x, key=lambda a: a["dose_mg"])["time"] == larger for x in uneven)
    r = preview(make, larger_dose_time="12:00")
    assert r.status_code == 422
    assert "larger_dose_time" in r.get_json()["errors"]


def test_one_day_steps_cannot_cut_a_quarter_a_day_unflagged(make: Builders) -> None:
    plan = planned(make, algorithm={"kind": "percent", "percent": 25}, interval_days=1)
    start = dt.date.fromisoformat(plan["steps"][0]["start_date"])

    def dose_on(day: dt.date) -> Decimal:
        found = d(plan["steps"][0]["daily_dose_mg"])
        for s in plan["steps"]:
            if dt.date.fromisoformat(s["start_date"]) <= day:
                found = d(s["daily_dose_mg"])
        return found

    for step in plan["steps"][1:-1]:
        day = dt.date.fromisoformat(step["start_date"])
        earlier = dose_on(max(day - dt.timedelta(days=13), start))
        if d(step["daily_dose_mg"]) < earlier * Decimal("0.75"):
            assert "grid_limited" in step["flags"], step
    assert all("short_step" in s["flags"] for s in plan["steps"] if s["days"] < 7)
    assert {"short_steps", "clamped"} <= set(codes(plan))
    short = next(n for n in plan["notes"] if n["code"] == "short_steps")
    assert short["needs_approval"] is True


def test_the_catalog_floor_makes_the_final_jump_expected(make: Builders) -> None:
    plan = planned(make, floor_dose_mg=None)
    assert plan["floor_dose_mg"] == 1
    assert plan["steps"][-2]["daily_dose_mg"] <= 1
    assert plan["steps"][-1]["flags"] == []
    jump = next(n for n in plan["notes"] if n["code"] == "jump_off")
    assert jump["needs_approval"] is False
    assert "nhs-scotland-bzra-reduction-schedules" in {s["id"] for s in plan["sources"]}
    # No floor in the catalog: 0, and the tail goes on down to the syringe's least volume.
    plan = planned(make, drug="escitalopram", start_dose_mg=10, floor_dose_mg=None)
    assert plan["floor_dose_mg"] == 0
    assert d(plan["steps"][-2]["daily_dose_mg"]) == Decimal("0.2")


def test_a_cut_the_grid_forces_is_flagged_and_approved_once_with_the_plan(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    tablets = [{"kind": "tablet", "strength_mg": 5, "divisible_by": 2}]
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json={
            "start_dose_mg": 20,
            "algorithm": {"kind": "percent", "percent": 10},
            "start_date": (clock.now.date() + dt.timedelta(days=3)).isoformat(),
            "formulations": tablets,
            "floor_dose_mg": 0,
        },
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    limited = [s["index"] for s in plan["steps"] if "grid_limited" in s["flags"]]
    assert limited, "halves of 5 mg cannot cut 5 -> 2.5 or 2.5 -> 0 within 25%"
    note = next(n for n in plan["notes"] if n["code"] == "grid_limited")
    assert (note["needs_approval"], note["steps"]) == (True, limited)
    # Not approved step by step: approve_flagged lists only cuts the clinician chose.
    refused = act(make, doc, plan, "approve", approve_flagged=limited)
    assert refused.status_code == 422, refused.get_json()
    missing = act(make, doc, plan, "approve", approve_flagged=[])
    assert missing.status_code == 409, missing.get_json()
    assert "acknowledge" in missing.get_json()["errors"]
    wrong = act(make, doc, plan, "approve", acknowledge=["grid_limited", "long_plan"])
    assert wrong.status_code == 422, wrong.get_json()
    ok = act(make, doc, plan, "approve", **approval(plan))
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["status"] == "approved"


def test_a_hyperbolic_tail_the_tablets_cannot_follow_is_said_and_the_liquid_named(
    make: Builders,
) -> None:
    tablets = [
        {"kind": "tablet", "strength_mg": 10, "divisible_by": 2},
        {"kind": "tablet", "strength_mg": 5},
    ]
    plan = planned(
        make,
        drug="escitalopram",
        start_dose_mg=20,
        algorithm={"kind": "hyperbolic", "occupancy_step_pct": 5},
        floor_dose_mg=0,
        formulations=tablets,
        times=["08:00"],
    )
    note = next(n for n in plan["notes"] if n["code"] == "hyperbolic_tail_not_achievable")
    assert "5 -> 0 mg" in note["message"]
    assert "oral-solution 1 mg/mL" in note["message"]
    r = preview(make, algorithm={"kind": "hyperbolic", "occupancy_step_pct": 5})
    assert r.status_code == 422
    assert "`percent`" in r.get_json()["errors"]["algorithm.kind"][0]


def test_settings_the_cap_clamps_are_said(make: Builders) -> None:
    for algorithm in (
        {"kind": "percent", "percent": 100},
        {"kind": "linear", "step_mg": 20},
    ):
        plan = planned(make, algorithm=algorithm)
        clamped = next(n for n in plan["notes"] if n["code"] == "clamped")
        assert 1 in clamped["steps"]
        assert "25% cap" in clamped["message"]
        assert d(plan["steps"][1]["daily_dose_mg"]) >= 15, "the cap holds"


def test_long_plans_need_approval_and_absurd_ones_are_refused(make: Builders) -> None:
    plan = planned(make, algorithm={"kind": "percent", "percent": 5}, interval_days=28)
    long_plan = next(n for n in plan["notes"] if n["code"] == "long_plan")
    assert long_plan["needs_approval"] is True
    assert plan["total_days"] > 730 or len(plan["steps"]) > 60
    r = preview(make, algorithm={"kind": "percent", "percent": 1}, interval_days=365)
    assert r.status_code == 422, r.get_json()
    assert set(r.get_json()["errors"]) & {"algorithm.percent", "interval_days"}


def test_a_floor_above_the_catalogs_needs_the_final_jump_approved(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json={
            "start_dose_mg": 20,
            "algorithm": {"kind": "percent", "percent": 25},
            "start_date": (clock.now.date() + dt.timedelta(days=3)).isoformat(),
            "floor_dose_mg": 50,
        },
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    assert [s["daily_dose_mg"] for s in plan["steps"]] == [20, 0]
    assert plan["steps"][1]["flags"] == ["exceeds_cap_needs_approval", "jump_off"]
    refused = act(make, doc, plan, "approve")
    assert refused.status_code == 409, refused.get_json()
    assert "approve_flagged" in refused.get_json()["errors"]
    # A client may list every note with needs_approval, the per-step ones included.
    ok = act(make, doc, plan, "approve", approve_flagged=[1], acknowledge=["jump_off"])
    assert ok.status_code == 200, ok.get_json()
