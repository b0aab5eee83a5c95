"""Checks shared by the taper property tests: an oracle and the invariants.

The oracle (`achievable`) recomputes which daily doses the formulations make with
plain sets, so the planner's rounding is checked against code other than its own.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Any

from service.domain.errors import DomainValidationError
from service.domain.taper import (
    Flag,
    Hyperbolic,
    Linear,
    Liquid,
    Manual,
    Percent,
    Tablet,
    TaperFormulation,
    TaperPlan,
    TaperSettings,
    plan_taper,
)
from service.domain.taper.settings import share_order

D = Decimal
HUNDRED = Fraction(100)
EXCEEDS = (Flag.EXCEEDS_CAP, Flag.EXTENDED)
CAP_FLAGS = (Flag.EXCEEDS_CAP, Flag.GRID_LIMITED)


def attempt(s: TaperSettings) -> TaperPlan | DomainValidationError:
    """The plan, or the validation error, as a value to assert on."""
    try:
        return plan_taper(s)
    except DomainValidationError as e:
        return e


def plan_or_none(s: TaperSettings) -> TaperPlan | None:
    """The plan, or None when it would be too long (the only refusal these inputs meet)."""
    result = attempt(s)
    if isinstance(result, DomainValidationError):
        too_long = {"algorithm.step_mg", "algorithm.percent", "interval_days"}
        assert set(result.errors) <= too_long, result.errors
        return None
    return result


def flagged(plan: TaperPlan) -> int:
    return sum(1 for x in plan.steps if set(CAP_FLAGS) & set(x.flags))


# The oracle: which daily doses can be made, computed without the planner's code.


def achievable(s: TaperSettings) -> set[Fraction]:
    """Every daily dose up to the start: any count of tablet parts, at most one liquid
    volume per administration, summed over the administrations."""
    top = Fraction(s.start_dose_mg)
    one = one_administration(s)
    daily = {Fraction(0)}
    for _ in s.times:
        daily = {a + b for a in daily for b in one if a + b <= top}
    return daily


def one_administration(s: TaperSettings) -> set[Fraction]:
    """Tablet parts alone, or one measured volume with whole tablets."""
    top = Fraction(s.start_dose_mg)
    one: set[Fraction] = {Fraction(0)}
    whole: set[Fraction] = {Fraction(0)}
    for f in s.formulations:
        if isinstance(f, Tablet):
            one = _closure(one, Fraction(f.strength_mg) / f.divisible_by, top)
            whole = _closure(whole, Fraction(f.strength_mg), top)
    for f in s.formulations:
        if isinstance(f, Liquid):
            for volume in _volumes(f, top):
                one |= {t + volume * Fraction(f.mg_per_ml) for t in whole}
    return {x for x in one if x <= top}


def _closure(doses: set[Fraction], piece: Fraction, top: Fraction) -> set[Fraction]:
    frontier = set(doses)
    while frontier:
        frontier = {x + piece for x in frontier if x + piece <= top} - doses
        doses |= frontier
    return doses


def _volumes(f: Liquid, top: Fraction) -> list[Fraction]:
    step = Fraction(f.resolution_ml)
    first = max(math.ceil(Fraction(f.min_volume_ml) / step), 1)
    return [n * step for n in range(first, math.floor(top / Fraction(f.mg_per_ml) / step) + 1)]


def ideal(s: TaperSettings, current: Fraction) -> Fraction:
    a = s.algorithm
    if isinstance(a, Linear):
        return current - Fraction(a.step_mg)
    if isinstance(a, Percent):
        return current * (1 - Fraction(a.percent) / HUNDRED)
    assert isinstance(a, Hyperbolic)
    assert s.occupancy is not None
    level = s.occupancy.at(D(current.numerator) / D(current.denominator)) - a.occupancy_step_pct
    return Fraction(s.occupancy.dose_for(level)) if level > 0 else Fraction(0)


def most_even(total: Fraction, one: list[Fraction], count: int) -> tuple[Fraction, ...]:
    """By brute force: the shares with the smallest largest share, then the largest
    smallest share, the next smallest, and so on."""

    def shares(prefix: tuple[Fraction, ...], remaining: Fraction) -> list[tuple[Fraction, ...]]:
        left = count - len(prefix)
        if left == 1:
            ok = remaining in one and (not prefix or remaining >= prefix[-1])
            return [(*prefix, remaining)] if ok else []
        low = prefix[-1] if prefix else Fraction(0)
        return [
            found
            for a in one
            if low <= a and a * left <= remaining
            for found in shares((*prefix, a), remaining - a)
        ]

    return min(shares((), total), key=lambda c: (c[-1], tuple(-x for x in c)))


# The invariants.


def check_invariants(s: TaperSettings, plan: TaperPlan) -> None:
    steps = plan.steps
    # 1. From the start dose, strictly down, to the target.
    assert steps[0].daily_dose_mg == s.start_dose_mg
    assert steps[-1].daily_dose_mg == s.target_dose_mg
    assert all(a.daily_dose_mg > b.daily_dose_mg for a, b in pairwise(steps))
    # 2. Every dose is made exactly from what the patient has.
    for i, step in enumerate(steps):
        earlier = steps[i - 1].administrations if i else None
        check_breakdown(s, step.daily_dose_mg, step.administrations, earlier)
    if not isinstance(s.algorithm, Manual):
        check_never_rises(plan)
    # 3. No 14 days cut more than the cap unless flagged, or the jump from the floor.
    for before, step in pairwise(steps):
        cut = (Fraction(before.daily_dose_mg) - Fraction(step.daily_dose_mg)) * HUNDRED
        cut /= Fraction(before.daily_dose_mg)
        assert step.cut_pct == D(math.floor(cut * 10 + Fraction(1, 2))) / 10
    check_window(s, plan)
    assert str(steps[0].cut_pct) == "0.0"
    assert all(Flag.JUMP_OFF not in x.flags for x in steps)
    for step in steps:
        assert (Flag.SHORT_STEP in step.flags) == (step.days < 7)
    check_durations(s, plan)
    # 4. Contiguous dates; the same input gives a byte-identical plan.
    assert steps[0].start_date == s.start_date
    assert all(b.start_date.toordinal() == a.end_date.toordinal() + 1 for a, b in pairwise(steps))
    assert [st_.index for st_ in steps] == list(range(len(steps)))
    assert plan.total_days == (steps[-1].end_date - steps[0].start_date).days + 1
    again = plan_taper(s)
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(plan.to_json(), sort_keys=True)


def dose_on(plan: TaperPlan, day: int) -> Fraction:
    """The daily dose on a day counted from the plan's start (the start dose before)."""
    found = Fraction(plan.steps[0].daily_dose_mg)
    for step in plan.steps:
        if (step.start_date - plan.steps[0].start_date).days <= day:
            found = Fraction(step.daily_dose_mg)
    return found


def from_floor(s: TaperSettings, before: Fraction, step: Any) -> bool:
    return step.daily_dose_mg == s.target_dose_mg and before <= Fraction(s.floor_dose_mg)


def check_window(s: TaperSettings, plan: TaperPlan) -> None:
    """Within any 14 days the dose falls by at most the cap, except at a flagged step
    or the final move from at or below the floor."""
    keep = 1 - Fraction(s.max_cut_pct) / HUNDRED
    first = plan.steps[0].start_date
    for before, step in pairwise(plan.steps):
        day = (step.start_date - first).days
        earlier = dose_on(plan, day - 13)
        within = Fraction(step.daily_dose_mg) >= keep * earlier
        flagged_here = {Flag.EXCEEDS_CAP, Flag.GRID_LIMITED} & set(step.flags)
        if from_floor(s, Fraction(before.daily_dose_mg), step):
            continue
        assert within or flagged_here, (step.index, step.daily_dose_mg, earlier)
        if isinstance(s.algorithm, Manual):
            assert Flag.GRID_LIMITED not in step.flags
            assert (Flag.EXCEEDS_CAP in step.flags) == (not within)
        else:
            assert Flag.EXCEEDS_CAP not in step.flags
            if Flag.GRID_LIMITED in step.flags:
                # Only the grid forces it: no dose the formulations make lies within the
                # cap of the dose before (checked where shares cannot get in the way).
                prev = Fraction(before.daily_dose_mg)
                assert Fraction(step.daily_dose_mg) < keep * prev
                if len(s.times) == 1:
                    assert not [d for d in achievable(s) if keep * prev <= d < prev]


def uses_liquid(step: Any) -> bool:
    return any(c.ml is not None for a in step.administrations for c in a.components)


def whole(f: TaperFormulation) -> TaperFormulation:
    return replace(f, divisible_by=1) if isinstance(f, Tablet) else f


def check_never_rises(plan: TaperPlan) -> None:
    """No time of day takes more than it did the step before. (A maintained target is
    the one exception: it is fixed, and the step before may not leave room for it.)"""
    steps = plan.steps if plan.steps[-1].daily_dose_mg == 0 else plan.steps[:-1]
    for before, step in pairwise(steps):
        for a, b in zip(before.administrations, step.administrations, strict=True):
            assert b.dose_mg <= a.dose_mg, (step.index, a.time, a.dose_mg, b.dose_mg)


def check_breakdown(
    s: TaperSettings, daily: Decimal, administrations: Any, previous: Any = None
) -> None:
    forms: dict[str, TaperFormulation] = {f.label: f for f in s.formulations}
    assert [a.time for a in administrations] == sorted(s.times)
    assert sum(a.dose_mg for a in administrations) == daily
    shares = [a.dose_mg for a in administrations]
    order = share_order(tuple(s.times), s.larger_dose_time)
    if [shares[i] for i in order] != sorted(shares, reverse=True):
        # Only where the larger amounts at the chosen times would rise above what those
        # times took the step before.
        assert previous is not None
        moved = [D(0)] * len(shares)
        for i, share in zip(order, sorted(shares, reverse=True), strict=True):
            moved[i] = share
        assert any(m > p.dose_mg for m, p in zip(moved, previous, strict=True))
    for a in administrations:
        assert sum(c.dose_mg for c in a.components) == a.dose_mg
        assert sum(1 for c in a.components if c.ml is not None) <= 1
        broken = False
        for c in a.components:
            f = forms[c.formulation]
            if isinstance(f, Tablet):
                assert c.ml is None
                assert c.units is not None
                assert c.units > 0
                assert (c.units * f.divisible_by) % 1 == 0
                assert c.dose_mg == c.units * f.strength_mg
                broken = broken or c.units % 1 != 0
            else:
                assert c.units is None
                assert c.ml is not None
                assert c.ml >= f.min_volume_ml
                assert c.ml % f.resolution_ml == 0
                assert c.dose_mg == c.ml * f.mg_per_ml
        liquid = any(c.ml is not None for c in a.components)
        assert not (broken and liquid), "a measured volume is never taken with a broken tablet"


def check_durations(s: TaperSettings, plan: TaperPlan) -> None:
    """Manual steps last what was entered (twice that when over the cap). Generated
    steps last their interval: twice it when the grid forces the cut, longer when held
    for the fortnight's cut to free up (flagged extended)."""
    for i, step in enumerate(plan.steps):
        if isinstance(s.algorithm, Manual):
            base = s.algorithm.steps[i].days
            assert step.days == (2 * base if Flag.EXCEEDS_CAP in step.flags else base)
            continue
        if s.slow_below_mg is not None and step.daily_dose_mg < s.slow_below_mg:
            assert s.slow_interval_days is not None
            base = s.slow_interval_days
        else:
            base = s.interval_days
        if Flag.GRID_LIMITED in step.flags:
            assert step.days >= 2 * base
            assert Flag.EXTENDED in step.flags
        else:
            assert (Flag.EXTENDED in step.flags) == (step.days > base), (i, step.days, base)
