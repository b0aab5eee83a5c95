"""A taper plan's serial form read back: `TaperPlan.from_json` is the exact inverse
of `to_json`, for any plan and for every plan the planner makes, and an amount that
is no dose is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from service.domain.taper import Administration, Component, Flag, Note, NoteCode, Step, TaperPlan
from service.domain.taper.plan import FLAG_ORDER
from tests.unit.taper_checks import attempt
from tests.unit.taper_strategies import generated_settings, manual_settings, random_kit

AMOUNTS = st.decimals(min_value=0, max_value=10_000, places=4)
PERCENTS = st.decimals(min_value=-1_000, max_value=100, places=1)


@st.composite
def components(draw: st.DrawFn) -> Component:
    """A tablet count or a liquid volume (or, as in a step of nothing, neither)."""
    kind = draw(st.sampled_from(["units", "ml", "none"]))
    amount = draw(AMOUNTS)
    return Component(
        formulation=draw(st.text(min_size=1, max_size=30)),
        dose_mg=draw(AMOUNTS),
        units=amount if kind == "units" else None,
        ml=amount if kind == "ml" else None,
    )


administrations = st.builds(
    Administration,
    time=st.times().map(lambda t: t.strftime("%H:%M")),
    dose_mg=AMOUNTS,
    components=st.lists(components(), max_size=3).map(tuple),
)


@st.composite
def steps(draw: st.DrawFn, index: int) -> Step:
    start = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
    flags = draw(st.sets(st.sampled_from(Flag)))
    return Step(
        index=index,
        start_date=start,
        end_date=start + dt.timedelta(days=draw(st.integers(0, 365))),
        daily_dose_mg=draw(AMOUNTS),
        cut_pct=draw(PERCENTS),
        flags=tuple(sorted(flags, key=FLAG_ORDER.index)),
        administrations=tuple(draw(st.lists(administrations, max_size=4))),
    )


@st.composite
def plans(draw: st.DrawFn) -> TaperPlan:
    count = draw(st.integers(0, 6))
    return TaperPlan(
        steps=tuple(draw(steps(i)) for i in range(count)),
        notes=tuple(draw(st.lists(notes(count), max_size=3))),
    )


def notes(count: int) -> st.SearchStrategy[Note]:
    return st.builds(
        Note,
        code=st.sampled_from(NoteCode),
        message=st.text(max_size=80),
        needs_approval=st.booleans(),
        steps=st.lists(st.integers(0, max(count - 1, 0)), max_size=3).map(tuple),
    )


@settings(max_examples=300, deadline=None)
@given(plans())
def test_any_plan_reads_back_as_it_was_written(plan: TaperPlan) -> None:
    stored = plan.to_json()
    assert TaperPlan.from_json(stored) == plan
    assert TaperPlan.from_json(stored).to_json() == stored, "stored again, the same JSON"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(generated_settings(), manual_settings(), random_kit()))
def test_every_planned_taper_reads_back_as_it_was_written(settings_: Any) -> None:
    plan = attempt(settings_)
    assume(isinstance(plan, TaperPlan))
    assert isinstance(plan, TaperPlan)
    stored = plan.to_json()
    assert TaperPlan.from_json(stored) == plan
    assert TaperPlan.from_json(stored).to_json() == stored


def test_amounts_are_read_as_the_exact_decimals_written() -> None:
    step = Step.from_json(
        {
            "index": 2,
            "start_date": "2026-06-25",
            "end_date": "2026-07-08",
            "days": 14,
            "daily_dose_mg": "0.0000001",
            "cut_pct": "-33.3",
            "flags": ["extended", "step_back"],
            "administrations": [
                {
                    "time": "08:00",
                    "dose_mg": "0.0000001",
                    "components": [
                        {"formulation": "2 mg/ml", "dose_mg": "0.0000001", "ml": "0.00000005"}
                    ],
                }
            ],
        }
    )
    assert (step.daily_dose_mg, step.cut_pct) == (Decimal("1E-7"), Decimal("-33.3"))
    assert step.flags == (Flag.EXTENDED, Flag.STEP_BACK)
    assert step.days == 14
    component = step.administrations[0].components[0]
    assert (component.ml, component.units) == (Decimal("5E-8"), None)
    assert step.to_json()["daily_dose_mg"] == "0.0000001", "never in exponent notation"


@pytest.mark.parametrize("amount", ["ten", "-1", "NaN", "Infinity", ""])
def test_an_amount_that_is_no_dose_is_refused(amount: str) -> None:
    raw = {
        "steps": [
            {
                "index": 0,
                "start_date": "2026-06-11",
                "end_date": "2026-06-24",
                "days": 14,
                "daily_dose_mg": amount,
                "cut_pct": "0",
                "flags": [],
                "administrations": [],
            }
        ],
        "total_days": 14,
        "warnings": [],
    }
    with pytest.raises(ValueError, match="not a dose"):
        TaperPlan.from_json(raw)
