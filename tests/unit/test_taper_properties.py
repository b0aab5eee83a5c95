"""Taper planner invariants (docs/clinical.md, "Taper planner") as Hypothesis properties."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from service.domain.errors import DomainValidationError
from service.domain.taper import (
    Flag,
    Liquid,
    Manual,
    Percent,
    Tablet,
    TaperSettings,
    default_formulations,
    plan_taper,
)
from tests.unit import taper_drugs as drugs
from tests.unit.taper_checks import (
    HUNDRED,
    achievable,
    attempt,
    check_invariants,
    flagged,
    ideal,
    most_even,
    one_administration,
    plan_or_none,
)
from tests.unit.taper_strategies import (
    DRUGS,
    TIMES,
    base_settings,
    generated_settings,
    manual_settings,
)

D = Decimal
PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(generated_settings())
def test_generated_plans_hold_the_invariants(s: TaperSettings) -> None:
    plan = plan_or_none(s)
    assume(plan is not None)
    assert plan is not None
    event(s.algorithm.kind)
    event("has a flagged step" if any(x.flags for x in plan.steps) else "no flag")
    check_invariants(s, plan)


@PROPERTY
@given(manual_settings())
def test_manual_plans_hold_the_invariants(s: TaperSettings) -> None:
    plan = plan_taper(s)
    check_invariants(s, plan)
    assert isinstance(s.algorithm, Manual)
    assert [x.daily_dose_mg for x in plan.steps] == [m.daily_dose_mg for m in s.algorithm.steps]


@PROPERTY
@given(generated_settings())
def test_each_step_rounds_toward_safety(s: TaperSettings) -> None:
    """The next dose is the smallest achievable one at or above the ideal and the cap
    bound, below the current dose; failing that, the largest achievable below it."""
    plan = plan_or_none(s)
    assume(plan is not None)
    assert plan is not None
    doses = sorted(achievable(s))
    target = Fraction(s.target_dose_mg)
    for before, step in pairwise(plan.steps):
        current = Fraction(before.daily_dose_mg)
        chosen = Fraction(step.daily_dose_mg)
        if current <= Fraction(s.floor_dose_mg):
            assert chosen == target
            continue
        cap_low = current * (1 - Fraction(s.max_cut_pct) / HUNDRED)
        low = max(ideal(s, current), cap_low, target)
        fitting = [d for d in doses if low <= d < current]
        below = [d for d in doses if target <= d < current]
        assert chosen == (fitting[0] if fitting else below[-1])
        if Flag.EXCEEDS_CAP in step.flags:
            assert not [d for d in below if d >= cap_low]


@PROPERTY
@given(base_settings(), st.sampled_from(("2.5", "5", "10", "15", "25", "40")), st.data())
def test_a_slower_percentage_never_gives_fewer_steps(
    s: TaperSettings, slower: str, data: st.DataObject
) -> None:
    faster = data.draw(
        st.sampled_from([p for p in ("5", "10", "15", "25", "40", "60") if D(p) > D(slower)])
    )
    slow_plan = plan_or_none(replace(s, algorithm=Percent(percent=D(slower))))
    fast_plan = plan_or_none(replace(s, algorithm=Percent(percent=D(faster))))
    assume(fast_plan is not None)
    assert fast_plan is not None
    if slow_plan is not None:
        assert len(slow_plan.steps) >= len(fast_plan.steps)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["diazepam", "clonazepam", "lorazepam", "escitalopram"]),
    st.booleans(),
    st.sampled_from(TIMES[1:]),
    st.sampled_from(("2", "4", "7.5", "10", "15")),
)
def test_shares_are_as_even_as_achievable(
    name: str, liquids: bool, times: tuple[str, ...], start: str
) -> None:
    forms = default_formulations(DRUGS[name][0])
    if not liquids:
        forms = tuple(f for f in forms if isinstance(f, Tablet))
    s = drugs.settings(
        start=start, algorithm=Percent(percent=D(20)), formulations=forms, times=times
    )
    plan = attempt(s)
    if isinstance(plan, DomainValidationError):
        assert list(plan.errors) == ["start_dose_mg"]  # e.g. 2 mg from 5/10/20 mg tablets
        return
    one = sorted(one_administration(s))
    for step in plan.steps:
        got = tuple(Fraction(a.dose_mg) for a in step.administrations)
        assert got == most_even(Fraction(step.daily_dose_mg), one, len(times))


@PROPERTY
@given(generated_settings(), st.sampled_from(("1", "2", "5")))
def test_adding_a_liquid_never_adds_flagged_steps_above_its_grain(
    s: TaperSettings, mg_per_ml: str
) -> None:
    """With the floor at or above the dose where one syringe step (0.1 mL) is a full
    cap's cut, the liquid always offers a dose within the cap (see the next test for
    what happens below)."""
    tablets = tuple(f for f in s.formulations if isinstance(f, Tablet))
    liquid = Liquid(mg_per_ml=D(mg_per_ml), form="oral-test")
    grain = Fraction(liquid.mg_per_ml) * Fraction(liquid.resolution_ml) * HUNDRED
    grain /= Fraction(s.max_cut_pct)
    floor = math.ceil(max(Fraction(s.floor_dose_mg), grain) * 10_000)
    s = replace(s, floor_dose_mg=D(floor).scaleb(-4))
    without = plan_or_none(replace(s, formulations=tablets))
    with_liquid = plan_or_none(replace(s, formulations=(*tablets, liquid)))
    assume(without is not None and with_liquid is not None)
    assert without is not None
    assert with_liquid is not None
    assert flagged(with_liquid) <= flagged(without)


def test_below_its_grain_a_liquid_can_add_flagged_steps() -> None:
    """The documented limit: with no floor, diazepam tablets end 2 -> 1 -> 0 with two
    flagged steps; the 0.1 mg steps of the solution go further down, to where every
    cut left exceeds 25% (0.3 -> 0.2 -> 0.1 -> 0), and flag three."""
    tablets = tuple(f for f in default_formulations(drugs.DIAZEPAM) if isinstance(f, Tablet))
    s = drugs.settings(start="4", algorithm=Percent(percent=D(10)), formulations=tablets)
    without = plan_taper(s)
    with_liquid = plan_taper(replace(s, formulations=(*tablets, Liquid(mg_per_ml=D(1)))))
    assert [str(x.daily_dose_mg) for x in without.steps][-3:] == ["2", "1", "0"]
    assert flagged(without) == 2
    assert [str(x.daily_dose_mg) for x in with_liquid.steps][-4:] == ["0.3", "0.2", "0.1", "0"]
    assert flagged(with_liquid) == 3
