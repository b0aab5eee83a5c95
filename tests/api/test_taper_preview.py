"""POST /v1/taper-plans/preview: plans a clinician can review, over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from tests.conftest import Builders

URL = "/v1/taper-plans/preview"


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "drug": "Valium",
        "start_dose_mg": 20,
        "algorithm": {"kind": "percent", "percent": 10},
        "max_cut_pct": 25,
        "floor_dose_mg": 1,
        "interval_days": 14,
        "start_date": "2026-12-01",
        "times": ["08:00", "20:00"],
    }
    base.update(overrides)
    return base


def d(value: float) -> Decimal:
    return Decimal(str(value))


def check_invariants(plan: dict[str, Any], *, start: float, target: float, cap: float) -> None:
    steps = plan["steps"]
    doses = [d(s["daily_dose_mg"]) for s in steps]
    assert doses[0] == d(start)
    assert doses[-1] == d(target)
    assert all(a > b for a, b in pairwise(doses)), doses
    for before, step in pairwise(steps):
        assert dt.date.fromisoformat(step["start_date"]) == dt.date.fromisoformat(
            before["end_date"]
        ) + dt.timedelta(days=1)
        cut = (d(before["daily_dose_mg"]) - d(step["daily_dose_mg"])) / d(before["daily_dose_mg"])
        from_floor = step is steps[-1] and d(before["daily_dose_mg"]) <= d(plan["floor_dose_mg"])
        if cut * 100 > d(cap) and not from_floor:
            assert {"exceeds_cap_needs_approval", "grid_limited"} & set(step["flags"]), step
    for step in steps:
        total = sum(d(a["dose_mg"]) for a in step["administrations"])
        assert total == d(step["daily_dose_mg"]), step
        for a in step["administrations"]:
            assert sum(d(c["dose_mg"]) for c in a["components"]) == d(a["dose_mg"]), a
            for c in a["components"]:
                assert (c["units"] is None) != (c["ml"] is None), c
    assert plan["total_days"] == sum(s["days"] for s in steps)


def test_a_diazepam_percent_taper_holds_the_invariants(make: Builders) -> None:
    doc = make.clinician()
    r = make.client.post(URL, json=body(), headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    assert plan["drug"] == "diazepam"
    check_invariants(plan, start=20, target=0, cap=25)
    assert plan["steps"][0]["start_date"] == "2026-12-01"
    assert plan["steps"][-1]["flags"] == []
    assert "jump_off" in [n["code"] for n in plan["notes"]]
    assert [a["time"] for a in plan["steps"][1]["administrations"]] == ["08:00", "20:00"]
    assert [s["id"] for s in plan["sources"]] == [
        "asam-2025-benzodiazepine-tapering",
        "nhs-scotland-bzra-reduction-schedules",
        "arenas-lopez-2017-enteral-syringes",
    ]
    again = make.client.post(URL, json=body(), headers=doc.headers)
    assert again.get_data() == r.get_data(), "the same settings give the same plan"


def test_a_hyperbolic_escitalopram_taper_cites_its_occupancy_model(make: Builders) -> None:
    doc = make.clinician()
    settings = body(
        drug="Lexapro",
        algorithm={"kind": "hyperbolic", "occupancy_step_pct": 10},
        max_cut_pct=50,
        floor_dose_mg=0.5,
        interval_days=28,
        times=["08:00"],
    )
    r = make.client.post(URL, json=settings, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    check_invariants(plan, start=20, target=0, cap=50)
    cuts = [
        d(a["daily_dose_mg"]) - d(b["daily_dose_mg"])
        for a, b in zip(plan["steps"], plan["steps"][1:-1], strict=False)
    ]
    assert cuts == sorted(cuts, reverse=True), "ever smaller mg cuts near the end"
    cited = {s["id"] for s in plan["sources"]}
    assert {"horowitz-taylor-2019", "voineskos-2007-high-dose-sert"} <= cited


def test_given_formulations_are_used_and_a_liquid_makes_small_doses(make: Builders) -> None:
    doc = make.clinician()
    tablets = [{"kind": "tablet", "strength_mg": 10, "divisible_by": 2}]
    with_liquid = [*tablets, {"kind": "liquid", "mg_per_ml": 1, "resolution_ml": 0.1}]
    plans = []
    for formulations in (tablets, with_liquid):
        r = make.client.post(
            URL,
            json=body(formulations=formulations, times=["08:00"], floor_dose_mg=0),
            headers=doc.headers,
        )
        assert r.status_code == 200, r.get_json()
        plans.append(r.get_json())
        check_invariants(plans[-1], start=20, target=0, cap=25)
    used = {
        c["formulation"]
        for s in plans[1]["steps"]
        for a in s["administrations"]
        for c in a["components"]
    }
    assert any("liquid" in f or "solution" in f or "mL" in f for f in used), used
    flagged = [
        sum(1 for s in p["steps"] if "exceeds_cap_needs_approval" in s["flags"]) for p in plans
    ]
    assert flagged[1] <= flagged[0], "a finer formulation never adds flagged steps"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (
            {"start_dose_mg": 7.3, "formulations": [{"kind": "tablet", "strength_mg": 5}]},
            "start_dose_mg",
        ),
        ({"start_dose_mg": -5}, "start_dose_mg"),
        ({"max_cut_pct": 0}, "max_cut_pct"),
        ({"target_dose_mg": 25}, "target_dose_mg"),
        ({"algorithm": {"kind": "linear"}}, "algorithm.step_mg"),
        ({"algorithm": {"kind": "hyperbolic", "occupancy_step_pct": 10}}, "algorithm.kind"),
        ({"drug": "Percocet"}, "drug"),
        ({"drug": "unobtainium"}, "drug"),
        ({"interval_days": 0}, "interval_days"),
        ({"times": ["08:00", "08:00"]}, "times"),
        (
            {
                "algorithm": {
                    "kind": "manual",
                    "steps": [
                        {"daily_dose_mg": 20, "days": 14},
                        {"daily_dose_mg": 25, "days": 14},
                        {"daily_dose_mg": 0, "days": 1},
                    ],
                }
            },
            "algorithm.steps",
        ),
    ],
)
def test_invalid_settings_get_422_naming_the_field(
    make: Builders, overrides: dict[str, Any], field: str
) -> None:
    doc = make.clinician()
    r = make.client.post(URL, json=body(**overrides), headers=doc.headers)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert any(
        k == field or k.startswith(field + ".") or k.startswith(field + "[") for k in errors
    ), errors


def test_only_clinicians_preview(make: Builders) -> None:
    doc = make.clinician()
    patient = make.patient(doc)
    admin = make.admin()
    for who in (patient, admin):
        assert make.client.post(URL, json=body(), headers=who.headers).status_code == 403
    assert make.client.post(URL, json=body()).status_code == 401
