"""Taper planner invariants (docs/clinical.md, "Taper planner") as Hypothesis properties."""

from __future__ import annotations

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
    TaperFormulation,
    TaperPlan,
    TaperSettings,
    default_formulations,
    plan_taper,
)
from tests.unit import taper_drugs as drugs
from tests.unit.taper_checks import (
    CAP_FLAGS,
    HUNDRED,
    achievable,
    attempt,
    check_invariants,
    ideal,
    one_administration,
    plan_or_none,
    whole,
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
# For a property of the drugs with an occupancy model: two of the six generated drugs
# have one, so most drawn settings are set aside by design.
OCCUPANCY_PROPERTY = settings(
    PROPERTY, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


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


def _fortnightly(s: TaperSettings) -> TaperSettings:
    """The same settings with steps of 14 days or more."""
    interval = max(s.interval_days, 14)
    slow = s.slow_interval_days
    return replace(s, interval_days=interval, slow_interval_days=slow and max(slow, interval))


@PROPERTY
@given(generated_settings())
def test_each_step_rounds_toward_safety(s: TaperSettings) -> None:
    """With tablets alone, one time a day and steps of 14 days or more: the next dose is
    the smallest achievable one at or above the ideal and the cap, below the current
    dose; failing that the smallest cut within the cap; failing that the largest
    achievable dose below (a cut only the grid forces)."""
    tablets = tuple(f for f in s.formulations if isinstance(f, Tablet))
    assume(tablets)
    s = _fortnightly(replace(s, formulations=tablets, times=("08:00",)))
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
        cap_low = max(current * (1 - Fraction(s.max_cut_pct) / HUNDRED), target)
        fitting = [d for d in doses if max(ideal(s, current), cap_low) <= d < current]
        within = [d for d in doses if cap_low <= d < current]
        below = [d for d in doses if target <= d < current]
        assert chosen == (fitting[0] if fitting else within[-1] if within else below[-1])
        assert (Flag.GRID_LIMITED in step.flags) == (not within)


@PROPERTY
@given(generated_settings(), st.sampled_from(("1", "2", "5")))
def test_tablets_first_and_the_liquid_for_the_tail(s: TaperSettings, mg_per_ml: str) -> None:
    """A step takes the liquid only when no tablet dose lies between the ideal (or the
    cap) and the current dose; from then on a tablet is broken only for an amount the
    liquid cannot measure. (One time a day, where no share can rise to keep a tablet
    dose out.)"""
    tablets = tuple(f for f in s.formulations if isinstance(f, Tablet))
    assume(tablets)
    liquid = Liquid(mg_per_ml=D(mg_per_ml), form="oral-test")
    s = _fortnightly(replace(s, formulations=(*tablets, liquid), times=("08:00",)))
    plan = plan_or_none(s)
    assume(plan is not None)
    assert plan is not None
    tablet_doses = sorted(achievable(replace(s, formulations=tablets)))
    by_volume = one_administration(replace(s, formulations=tuple(whole(f) for f in s.formulations)))
    tail = False
    for before, step in pairwise(plan.steps):
        uses_liquid = any(c.ml is not None for a in step.administrations for c in a.components)
        if uses_liquid and not tail:
            event("the liquid takes over")
            current = Fraction(before.daily_dose_mg)
            low = max(
                ideal(s, current),
                current * (1 - Fraction(s.max_cut_pct) / HUNDRED),
                Fraction(s.target_dose_mg),
            )
            assert not [d for d in tablet_doses if low <= d < current], step.index
            tail = True
        if tail:
            for a in step.administrations:
                if any(c.units is not None and c.units % 1 for c in a.components):
                    assert Fraction(a.dose_mg) not in by_volume, (step.index, a.dose_mg)


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
def test_shares_are_equal_where_the_daily_dose_allows(
    name: str, liquids: bool, times: tuple[str, ...], start: str
) -> None:
    """A step's times take unequal amounts only when no equal share of its daily dose
    can be made (with tablets alone, before the liquid's tail), or an equal share would
    be more than a time took the step before."""
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
    with_tablets = one_administration(
        replace(s, formulations=tuple(f for f in forms if isinstance(f, Tablet)))
    )
    previous: list[Fraction] | None = None
    for step in plan.steps:
        got = [Fraction(a.dose_mg) for a in step.administrations]
        liquid = any(c.ml is not None for a in step.administrations for c in a.components)
        one = one_administration(s) if liquid else with_tablets
        equal = Fraction(step.daily_dose_mg) / len(times)
        if len(set(got)) > 1:
            event("unequal shares")
            assert equal not in one or (previous is not None and equal > min(previous))
        previous = got


def _superset(data: st.DataObject, s: TaperSettings) -> tuple[TaperSettings, TaperSettings]:
    """Settings with formulations F and the same with F' that adds to F."""
    tablets = [f for f in s.formulations if isinstance(f, Tablet)]
    strength = data.draw(st.sampled_from(("1", "2", "5")))
    extra: list[TaperFormulation] = [f for f in s.formulations if not isinstance(f, Tablet)]
    extra.append(Liquid(mg_per_ml=D(strength), form="oral-test"))
    assume(tablets)
    kept = data.draw(st.lists(st.sampled_from(tablets), min_size=1, unique=True))
    rest: list[TaperFormulation] = [t for t in tablets if t not in kept]
    rest += extra
    added = data.draw(st.lists(st.sampled_from(rest), min_size=1, unique_by=lambda f: f.label))
    return replace(s, formulations=tuple(kept)), replace(s, formulations=(*kept, *added))


def _plan(s: TaperSettings) -> TaperPlan | None:
    """The plan, or None when these formulations cannot make the start dose."""
    result = attempt(s)
    if isinstance(result, DomainValidationError):
        made = {"start_dose_mg", "target_dose_mg", "algorithm.step_mg", "algorithm.percent"}
        made |= {"interval_days"}
        assert set(result.errors) <= made
        return None
    return result


def _last_before_zero(plan: TaperPlan) -> Fraction:
    return Fraction(plan.steps[-2].daily_dose_mg)


def _largest_flagged_cut(plan: TaperPlan) -> Fraction:
    return max(
        (
            Fraction(a.daily_dose_mg - b.daily_dose_mg)
            for a, b in pairwise(plan.steps)
            if set(CAP_FLAGS) & set(b.flags)
        ),
        default=Fraction(0),
    )


def _largest_occupancy_drop(s: TaperSettings, plan: TaperPlan) -> Decimal:
    assert s.occupancy is not None
    levels = [s.occupancy.at(x.daily_dose_mg) for x in plan.steps]
    return max(a - b for a, b in pairwise(levels))


def _floor_within_reach(fewer: TaperSettings, more: TaperSettings) -> tuple[TaperSettings, ...]:
    """Both with the floor lowered, where needed, to the smallest dose F makes.

    Above it the floor rule and these properties part: F = {20 mg tablet, halves},
    F' = F + {10 mg tablet, halves}, 40 mg at 25% with a 25 mg floor: F cuts
    30 -> 20 (flagged, the grid forces it) and stops from 20 mg; F' cuts 30 -> 25
    within the cap and stops from 25 mg, at or below the floor (test below).
    """
    smallest = min((d for d in achievable(fewer) if d > 0), default=None)
    if smallest is None:
        return fewer, more
    floor = min(Fraction(fewer.floor_dose_mg), smallest)
    lowered = D(floor.numerator) / D(floor.denominator)
    return replace(fewer, floor_dose_mg=lowered), replace(more, floor_dose_mg=lowered)


def test_above_the_smallest_dose_a_floor_can_stop_a_finer_set_higher() -> None:
    """The documented limit of the first property (docs/clinical.md, "Taper planner")."""
    coarse = (Tablet(strength_mg=D(20), divisible_by=2),)
    finer = (*coarse, Tablet(strength_mg=D(10), divisible_by=2))
    plans = [
        plan_taper(
            drugs.settings(
                start="40", algorithm=Percent(percent=D(25)), formulations=f, floor_dose_mg=D(25)
            )
        )
        for f in (coarse, finer)
    ]
    assert [[str(x.daily_dose_mg) for x in p.steps] for p in plans] == [
        ["40", "30", "20", "0"],
        ["40", "30", "25", "0"],
    ]
    assert Flag.GRID_LIMITED in plans[0].steps[2].flags
    assert not any(x.flags for x in plans[1].steps)


@PROPERTY
@given(generated_settings(), st.data())
def test_adding_formulations_never_raises_the_last_dose_before_zero(
    s: TaperSettings, data: st.DataObject
) -> None:
    # With no cap at all (100%) the algorithm alone says where to stop: a linear cut
    # stops from the first dose at or below its step, wherever the grid puts it.
    assume(s.max_cut_pct < 100)
    fewer, more = _superset(data, replace(s, target_dose_mg=D(0)))
    fewer, more = _floor_within_reach(fewer, more)
    with_f, with_more = _plan(fewer), _plan(more)
    assume(with_f is not None and with_more is not None)
    assert with_f is not None
    assert with_more is not None
    assert _last_before_zero(with_more) <= _last_before_zero(with_f)


@PROPERTY
@given(generated_settings(), st.data())
def test_adding_formulations_never_enlarges_the_largest_flagged_cut(
    s: TaperSettings, data: st.DataObject
) -> None:
    fewer, more = _superset(data, s)
    with_f, with_more = _plan(fewer), _plan(more)
    assume(with_f is not None and with_more is not None)
    assert with_f is not None
    assert with_more is not None
    assert _largest_flagged_cut(with_more) <= _largest_flagged_cut(with_f)


@OCCUPANCY_PROPERTY
@given(generated_settings(), st.data())
def test_adding_formulations_never_enlarges_the_largest_occupancy_drop(
    s: TaperSettings, data: st.DataObject
) -> None:
    assume(s.occupancy is not None)
    # As for the last dose: with no cap the algorithm alone says where to stop.
    assume(s.max_cut_pct < 100)
    # To a stop: a maintained dose ends where the clinician says, and finer formulations
    # follow the algorithm more closely on the way (200 -> 162.5 -> 150 mg rather than
    # 200 -> 175 -> 150 with a linear 40 mg).
    fewer, more = _superset(data, replace(s, target_dose_mg=D(0)))
    fewer, more = _floor_within_reach(fewer, more)
    with_f, with_more = _plan(fewer), _plan(more)
    assume(with_f is not None and with_more is not None)
    assert with_f is not None
    assert with_more is not None
    assert _largest_occupancy_drop(more, with_more) <= _largest_occupancy_drop(fewer, with_f)
