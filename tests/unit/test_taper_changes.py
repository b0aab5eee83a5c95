"""Changes to a running plan in its serial form: extending a step, stepping back,
and the prescription terms each step becomes."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.domain.errors import DomainValidationError
from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule
from service.domain.taper import Administration, Step, TaperPlan
from service.domain.taper.changes import extend_step, flagged_steps, step_back, step_terms
from tests.unit.taper_checks import attempt
from tests.unit.taper_strategies import generated_settings


def contiguous(plan: dict[str, Any]) -> bool:
    return all(
        dt.date.fromisoformat(a["end_date"]) + dt.timedelta(days=1)
        == dt.date.fromisoformat(b["start_date"])
        for a, b in itertools.pairwise(plan["steps"])
    )


@settings(max_examples=150, deadline=None)
@given(generated_settings(), st.data())
def test_a_step_back_keeps_the_past_and_never_speeds_up(
    settings_: Any, data: st.DataObject
) -> None:
    # Settings the planner refuses (a plan of more than ten years, say) make no plan.
    typed = attempt(settings_)
    assume(isinstance(typed, TaperPlan))
    assert isinstance(typed, TaperPlan)
    plan = typed.to_json()
    steps = plan["steps"]
    if len(steps) < 2:
        return
    index = data.draw(st.integers(1, len(steps) - 1))
    if Decimal(steps[index]["daily_dose_mg"]) == 0:
        with pytest.raises(ValueError, match="step of nothing"):
            step_back(typed, index, from_date=dt.date(2100, 1, 1), hold_days=1)
        return
    begun = dt.date.fromisoformat(steps[index]["start_date"])
    from_date = begun + dt.timedelta(days=data.draw(st.integers(1, 60)))
    hold = data.draw(st.integers(1, 90))
    stepped_back = step_back(typed, index, from_date=from_date, hold_days=hold)
    out = stepped_back.to_json()
    new = out["steps"]
    assert new[:index] == steps[:index]
    assert new[index]["daily_dose_mg"] == steps[index]["daily_dose_mg"]
    assert new[index + 1]["daily_dose_mg"] == steps[index - 1]["daily_dose_mg"]
    assert new[index + 1]["flags"] == ["step_back"]
    assert Decimal(new[index + 1]["cut_pct"]) < 0
    assert [s["daily_dose_mg"] for s in new[index + 2 :]] == [
        s["daily_dose_mg"] for s in steps[index:]
    ]
    assert all(
        n["days"] >= o["days"] and n["administrations"] == o["administrations"]
        for n, o in zip(new[index + 2 :], steps[index:], strict=True)
    )
    assert [s["index"] for s in new] == list(range(len(new)))
    assert contiguous(out)
    assert out["total_days"] == sum(s["days"] for s in new)
    old = flagged_steps(typed)
    moved = {j for j in old if j <= index} | {j + 2 for j in old if j >= index}
    assert set(flagged_steps(stepped_back)) == moved, "a retried step keeps its flag, moved by two"


def test_a_step_back_needs_a_previous_step_and_a_begun_current_one() -> None:
    plan = TaperPlan.from_json(
        {
            "steps": [
                {
                    "index": 0,
                    "start_date": "2026-01-01",
                    "end_date": "2026-01-14",
                    "days": 14,
                    "daily_dose_mg": "10",
                    "cut_pct": "0",
                    "flags": [],
                    "administrations": [],
                },
                {
                    "index": 1,
                    "start_date": "2026-01-15",
                    "end_date": "2026-01-28",
                    "days": 14,
                    "daily_dose_mg": "8",
                    "cut_pct": "20",
                    "flags": [],
                    "administrations": [],
                },
            ],
            "total_days": 28,
            "warnings": [],
        }
    )
    with pytest.raises(ValueError, match="higher dose"):
        step_back(plan, 0, from_date=dt.date(2026, 1, 5), hold_days=7)
    with pytest.raises(ValueError, match="begun"):
        step_back(plan, 1, from_date=dt.date(2026, 1, 15), hold_days=7)
    with pytest.raises(ValueError, match="extended by at least one day"):
        extend_step(plan, 1, 0)


TERMS = PrescriptionTerms(
    drug="diazepam",
    dose=Dose(amount=Decimal(10), unit="mg"),
    route="oral",
    schedule=Schedule(times=(dt.time(8), dt.time(20))),
    start_date=dt.date(2026, 1, 1),
)


def step(*amounts: tuple[str, str]) -> Step:
    return Step(
        index=0,
        start_date=dt.date(2026, 1, 1),
        end_date=dt.date(2026, 1, 14),
        daily_dose_mg=sum((Decimal(mg) for _, mg in amounts), Decimal(0)),
        cut_pct=Decimal(0),
        flags=(),
        administrations=tuple(
            Administration(time=t, dose_mg=Decimal(mg), components=()) for t, mg in amounts
        ),
    )


def test_a_step_becomes_terms_with_each_time_s_amount() -> None:
    even = step_terms(TERMS, step(("08:00", "5"), ("20:00", "5")))
    assert even is not None
    assert (even.dose.amount, even.schedule.amounts) == (Decimal(5), None)
    split = step_terms(TERMS, step(("08:00", "5"), ("20:00", "2.5")))
    assert split is not None
    assert split.schedule.amounts == (Decimal(5), Decimal("2.5"))
    night = step_terms(TERMS, step(("08:00", "0"), ("20:00", "2.5")))
    assert night is not None
    assert (night.schedule.times, night.dose.amount) == ((dt.time(20),), Decimal("2.5"))
    assert step_terms(TERMS, step(("08:00", "0"), ("20:00", "0"))) is None
    with pytest.raises(DomainValidationError):
        step_terms(TERMS, step(("08:00", "0.03125")))
