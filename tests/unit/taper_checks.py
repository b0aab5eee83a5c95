"""Checks shared by the taper property tests: an oracle and the invariants.

The oracle (`achievable`) recomputes which daily doses the formulations make with
plain sets, so the planner's rounding is checked against code other than its own.
"""

from __future__ import annotations

import json
import math
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

D = Decimal
HUNDRED = Fraction(100)
EXCEEDS = (Flag.EXCEEDS_CAP, Flag.EXTENDED)


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
        assert set(result.errors) <= {"algorithm.step_mg", "algorithm.percent"}, result.errors
        return None
    return result


def flagged(plan: TaperPlan) -> int:
    return sum(1 for x in plan.steps if Flag.EXCEEDS_CAP in x.flags)


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
    top = Fraction(s.start_dose_mg)
    one: set[Fraction] = {Fraction(0)}
    for f in s.formulations:
        if isinstance(f, Tablet):
            one = _closure(one, Fraction(f.strength_mg) / f.divisible_by, top)
    tablets_only = set(one)
    for f in s.formulations:
        if isinstance(f, Liquid):
            for volume in _volumes(f, top):
                one |= {t + volume * Fraction(f.mg_per_ml) for t in tablets_only}
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
    for step in steps:
        check_breakdown(s, step.daily_dose_mg, step.administrations)
    # 3. No cut over the cap unless flagged, or the jump off from at or below the floor.
    for i, (before, step) in enumerate(pairwise(steps), start=1):
        cut = (Fraction(before.daily_dose_mg) - Fraction(step.daily_dose_mg)) * HUNDRED
        cut /= Fraction(before.daily_dose_mg)
        assert step.cut_pct == D(math.floor(cut * 10 + Fraction(1, 2))) / 10
        if cut <= Fraction(s.max_cut_pct):
            assert step.flags == ()
        elif step.flags == (Flag.JUMP_OFF,):
            assert i == len(steps) - 1
            assert before.daily_dose_mg <= s.floor_dose_mg
        else:
            assert step.flags == EXCEEDS
    assert steps[0].flags == ()
    assert str(steps[0].cut_pct) == "0.0"
    check_durations(s, plan)
    # 4. Contiguous dates; the same input gives a byte-identical plan.
    assert steps[0].start_date == s.start_date
    assert all(b.start_date.toordinal() == a.end_date.toordinal() + 1 for a, b in pairwise(steps))
    assert [st_.index for st_ in steps] == list(range(len(steps)))
    assert plan.total_days == (steps[-1].end_date - steps[0].start_date).days + 1
    again = plan_taper(s)
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(plan.to_json(), sort_keys=True)


def check_breakdown(s: TaperSettings, daily: Decimal, administrations: Any) -> None:
    forms: dict[str, TaperFormulation] = {f.label: f for f in s.formulations}
    assert [a.time for a in administrations] == sorted(s.times)
    assert sum(a.dose_mg for a in administrations) == daily
    shares = [a.dose_mg for a in administrations]
    assert shares == sorted(shares)
    for a in administrations:
        assert sum(c.dose_mg for c in a.components) == a.dose_mg
        assert sum(1 for c in a.components if c.ml is not None) <= 1
        for c in a.components:
            f = forms[c.formulation]
            if isinstance(f, Tablet):
                assert c.ml is None
                assert c.units is not None
                assert c.units > 0
                assert (c.units * f.divisible_by) % 1 == 0
                assert c.dose_mg == c.units * f.strength_mg
            else:
                assert c.units is None
                assert c.ml is not None
                assert c.ml >= f.min_volume_ml
                assert c.ml % f.resolution_ml == 0
                assert c.dose_mg == c.ml * f.mg_per_ml


def check_durations(s: TaperSettings, plan: TaperPlan) -> None:
    """Extended steps last LENGTHEN_FACTOR (2) times their base; others their base."""
    for i, step in enumerate(plan.steps):
        if isinstance(s.algorithm, Manual):
            base = s.algorithm.steps[i].days
        elif s.slow_below_mg is not None and step.daily_dose_mg < s.slow_below_mg:
            assert s.slow_interval_days is not None
            base = s.slow_interval_days
        else:
            base = s.interval_days
        assert step.days == (2 * base if Flag.EXTENDED in step.flags else base)
