"""The dispensing table over real plans (issue 22, first acceptance point): diazepam
from 20 mg to 0 with 2, 5 and 10 mg scored tablets and the 1 mg/mL solution, made by
the planner. Every period covers its doses, and after carry-over no more than one
tablet of a strength or one bottle of a liquid is left beyond them.

Bottle sizes: 473 mL is the catalog's diazepam solution bottle (docs/clinical.md,
"Bottle sizes"); the others are inputs chosen for their arithmetic.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from service.domain.errors import DomainValidationError
from service.domain.supply.dispensing import Dispensing, bottles_covering, dispensing
from service.domain.supply.use import ML, TABLET, added, step_use
from service.domain.taper import (
    Linear,
    Liquid,
    Manual,
    ManualStep,
    Percent,
    Tablet,
    TaperPlan,
    TaperSettings,
    plan_taper,
)
from tests.unit import taper_drugs as drugs

D = Decimal
FORMS = (
    Tablet(strength_mg=D(2), divisible_by=2),
    Tablet(strength_mg=D(5), divisible_by=2),
    Tablet(strength_mg=D(10), divisible_by=2),
    Liquid(mg_per_ml=D(1)),
)
SOLUTION = FORMS[-1].label
BOTTLES = ((D(473),), (D(500),), (D(100), D(500)), (D(5),), (), (D(150), D(200)))
TIMES = (("08:00",), ("08:00", "20:00"), ("22:00", "08:00"), ("08:00", "14:00", "20:00"))
# Doses a manual plan may pass through on its way down from 20 mg.
MANUAL_DOSES = ("15", "12", "10", "7.5", "5", "4", "2.5", "2", "1", "0.5")
PROPERTY = settings(max_examples=60, deadline=None)


@st.composite
def diazepam_settings(draw: st.DrawFn, kind: str) -> TaperSettings:
    if kind == "linear":
        algorithm: Linear | Percent | Manual = Linear(
            step_mg=D(draw(st.sampled_from(("1", "2", "2.5", "5"))))
        )
    elif kind == "percent":
        algorithm = Percent(percent=D(draw(st.sampled_from(("10", "20", "25", "50")))))
    else:
        middle = draw(st.lists(st.sampled_from(MANUAL_DOSES), unique=True, max_size=6))
        doses = ["20", *sorted(middle, key=D, reverse=True), "0"]
        algorithm = Manual(
            steps=tuple(
                ManualStep(daily_dose_mg=D(x), days=draw(st.integers(1, 60))) for x in doses
            )
        )
    return drugs.settings(
        start="20",
        algorithm=algorithm,
        formulations=FORMS,
        interval_days=draw(st.integers(1, 28)),
        max_cut_pct=D(draw(st.sampled_from(("10", "25", "33.3", "50", "100")))),
        times=draw(st.sampled_from(TIMES)),
    )


def planned(s: TaperSettings) -> TaperPlan:
    """The planner's plan; settings it refuses (too long a plan) are set aside."""
    try:
        return plan_taper(s)
    except DomainValidationError:
        assume(False)
        raise


def daily_use(plan: TaperPlan) -> dict[dt.date, dict[str, Decimal]]:
    """Each day of the plan and what it takes, counted day by day."""
    return {
        step.start_date + dt.timedelta(days=n): step_use(step)
        for step in plan.steps
        for n in range(step.days)
    }


def between(
    days: Mapping[dt.date, Mapping[str, Decimal]], start: dt.date, end: dt.date
) -> dict[str, Decimal]:
    return added(use for day, use in days.items() if start <= day <= end)


@pytest.mark.parametrize("kind", ["linear", "percent", "manual"])
@PROPERTY
@given(data=st.data(), period_days=st.integers(1, 60), sizes=st.sampled_from(BOTTLES))
def test_every_period_is_covered_and_little_is_left(
    kind: str, data: st.DataObject, period_days: int, sizes: tuple[Decimal, ...]
) -> None:
    s = data.draw(diazepam_settings(kind))
    plan = planned(s)
    d = dispensing(plan, s.formulations, period_days=period_days, bottles={SOLUTION: sizes})
    days = daily_use(plan)
    used = {label for use in days.values() for label in use}
    event("the liquid is used" if SOLUTION in used else "tablets alone")
    check_periods_tile_the_plan(d, plan, period_days)
    carried: dict[str, Decimal] = {}
    for period in d.periods:
        assert {x.formulation for x in period.lines} == used
        use = between(days, period.start, period.end)
        for line in period.lines:
            assert line.needed == use.get(line.formulation, 0)
            assert line.carried_in == carried.get(line.formulation, 0)
            assert line.carried_in + line.dispense >= line.needed
            assert line.left_over == line.carried_in + line.dispense - line.needed
            carried[line.formulation] = line.left_over
            if line.unit == TABLET:
                assert line.dispense == int(line.dispense)
                assert 0 <= line.left_over < 1
            elif sizes:
                assert line.unit == ML
                assert line.dispense == sum(size * n for size, n in line.bottles)
                assert {size for size, _ in line.bottles} <= set(sizes)
                assert 0 <= line.left_over < max(sizes)
            else:
                assert line.left_over == 0
                assert line.bottles == ()
    check_totals(d, days)


def check_periods_tile_the_plan(d: Dispensing, plan: TaperPlan, period_days: int) -> None:
    assert (d.start, d.end) == (plan.steps[0].start_date, plan.steps[-1].end_date)
    assert d.periods[0].start == d.start
    assert d.periods[-1].end == d.end
    for before, after in itertools.pairwise(d.periods):
        assert (before.end - before.start).days + 1 == period_days
        assert after.start == before.end + dt.timedelta(days=1)
    assert (d.periods[-1].end - d.periods[-1].start).days < period_days
    assert [p.index for p in d.periods] == list(range(1, len(d.periods) + 1))


def check_totals(d: Dispensing, days: Mapping[dt.date, Mapping[str, Decimal]]) -> None:
    """The totals against the whole plan's use, counted day by day."""
    whole = added(days.values())
    assert {t.formulation: t.needed for t in d.totals} == whole
    for i, total in enumerate(d.totals):
        lines = [p.lines[i] for p in d.periods]
        assert total.dispense == sum(x.dispense for x in lines)
        assert total.left_over == lines[-1].left_over == total.dispense - total.needed
        assert total.carried_in == 0
        counts: dict[Decimal, int] = {}
        for x in lines:
            for size, n in x.bottles:
                counts[size] = counts.get(size, 0) + n
        assert total.bottles == tuple(sorted(counts.items(), reverse=True))


SIZE_SETS: tuple[tuple[Decimal, ...], ...] = (
    *(s for s in BOTTLES if s),
    (D(473), D(500)),
    (D(118), D(500)),
    (D(30), D(1000)),
    (D(30), D(100), D(250)),
    (D("2.5"), D(5)),
)


@settings(max_examples=200, deadline=None)
@given(st.integers(-5, 15_000), st.sampled_from(SIZE_SETS))
def test_bottles_are_the_smallest_covering_in_the_fewest_bottles(
    tenths: int, sizes: tuple[Decimal, ...]
) -> None:
    """Against every combination of up to one bottle too many of each size."""
    need = D(tenths) / 10
    chosen = bottles_covering(need, sizes)
    if need <= 0:
        assert chosen == ()
        return
    ranges = [range(int(need // s) + 2) for s in sizes]
    best = min(
        (sum(n * s for n, s in zip(counts, sizes, strict=True)), sum(counts))
        for counts in itertools.product(*ranges)
        if sum(n * s for n, s in zip(counts, sizes, strict=True)) >= need
    )
    assert (sum(s * n for s, n in chosen), sum(n for _, n in chosen)) == best
    assert [s for s, _ in chosen] == sorted({s for s, _ in chosen}, reverse=True)
    assert all(n > 0 for _, n in chosen)
