"""Taper plan generation: the next dose at each step, flags, dates and breakdowns.

Rounding is toward safety. The algorithm proposes an ideal next dose; the plan takes
the smallest achievable dose at or above it that is strictly below the current dose
and cuts no more than `max_cut_pct` of it. When none exists, it takes the largest
achievable dose below the current one (the smallest cut available); if even that
cut exceeds the cap, the step is flagged for approval and lengthened. From a dose
at or below `floor_dose_mg` the next step is the target; a cut above the cap there
is flagged `jump_off`.

Durations: each step lasts `interval_days`, or `slow_interval_days` when its dose is
strictly below `slow_below_mg`; manual steps last what the clinician entered. The
target step lasts one such interval too (after a stop, the observation period when
withdrawal is most likely; for a maintained dose, the first interval on it), after
which the plan ends.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NoReturn

from service.domain.errors import DomainValidationError
from service.domain.taper.arith import PLAN_CONTEXT, round_tenth, text, to_decimal
from service.domain.taper.checks import validate
from service.domain.taper.grid import DoseGrid, units_of
from service.domain.taper.plan import FLAG_ORDER, Administration, Flag, Step, TaperPlan
from service.domain.taper.settings import (
    MAX_STEPS,
    Hyperbolic,
    Linear,
    Manual,
    Percent,
    TaperSettings,
    ordered_times,
)

# A step whose cut exceeds the cap lasts this many times its interval: twice the time
# to settle keeps the average pace near the cap (a 50% cut over 4 weeks ~ 25% every
# 2 weeks, the ASAM ceiling). A product default; the clinician sets the real duration
# when approving the step.
LENGTHEN_FACTOR = 2
_HUNDRED = Fraction(100)


def plan_taper(settings: TaperSettings) -> TaperPlan:
    """The plan for valid settings; DomainValidationError naming each bad field otherwise."""
    with localcontext(PLAN_CONTEXT):
        grid = validate(settings)
        if isinstance(settings.algorithm, Manual):
            doses = [_units(step.daily_dose_mg, grid) for step in settings.algorithm.steps]
            days = [step.days for step in settings.algorithm.steps]
        else:
            doses = _generated(settings, grid)
            days = [_interval(settings, grid.mg(d)) for d in doses]
        return _assemble(settings, grid, doses, days)


def _units(dose: Decimal, grid: DoseGrid) -> int:
    units = units_of(dose, grid.unit)
    assert units is not None
    return units


def _generated(settings: TaperSettings, grid: DoseGrid) -> list[int]:
    """Daily doses in grid units from the start down to the target."""
    target = _units(settings.target_dose_mg, grid)
    doses = [grid.size]
    while doses[-1] > target:
        if len(doses) == MAX_STEPS:
            _too_many_steps(settings)
        doses.append(_next_dose(settings, grid, doses[-1], target))
    return doses


def _next_dose(settings: TaperSettings, grid: DoseGrid, current: int, target: int) -> int:
    """The next daily dose: the algorithm's ideal rounded up onto the grid, within the cap."""
    current_mg = grid.mg(current)
    if current_mg <= Fraction(settings.floor_dose_mg):
        return target
    cap_low = current_mg * (1 - Fraction(settings.max_cut_pct) / _HUNDRED)
    low = math.ceil(max(_ideal(settings, current_mg), cap_low) / grid.unit)
    found = grid.smallest_in(max(low, target), current)
    if found is not None:
        return found
    below = grid.largest_below(current)
    assert below is not None
    return below


def _ideal(settings: TaperSettings, current: Fraction) -> Fraction:
    """The algorithm's next daily dose before rounding; may be below the target or 0."""
    a = settings.algorithm
    if isinstance(a, Linear):
        return current - Fraction(a.step_mg)
    if isinstance(a, Percent):
        return current * (1 - Fraction(a.percent) / _HUNDRED)
    assert isinstance(a, Hyperbolic)
    model = settings.occupancy
    assert model is not None
    level = model.at(to_decimal(current)) - a.occupancy_step_pct
    return Fraction(model.dose_for(level)) if level > 0 else Fraction(0)


def _too_many_steps(settings: TaperSettings) -> NoReturn:
    """Refuse a plan that would not end within MAX_STEPS, naming the step setting."""
    paths = {"linear": "algorithm.step_mg", "percent": "algorithm.percent"}
    path = paths.get(settings.algorithm.kind, "algorithm.occupancy_step_pct")
    message = f"This plan would need more than {MAX_STEPS} steps; use larger cuts."
    raise DomainValidationError({path: [message]})


def _interval(settings: TaperSettings, dose: Fraction) -> int:
    slow_below = settings.slow_below_mg
    slow_days = settings.slow_interval_days
    if slow_below is not None and slow_days is not None and dose < Fraction(slow_below):
        return slow_days
    return settings.interval_days


def _assemble(
    settings: TaperSettings, grid: DoseGrid, doses: list[int], days: list[int]
) -> TaperPlan:
    """Steps with contiguous dates, flags and breakdowns, and the warnings they raise."""
    times = ordered_times(settings.times)
    steps: list[Step] = []
    warnings: list[str] = []
    start = settings.start_date
    for index, (dose, base) in enumerate(zip(doses, days, strict=True)):
        previous = doses[index - 1] if index else dose
        cut = Fraction(previous - dose, previous) * _HUNDRED if previous else Fraction(0)
        flags = _flags(settings, grid.mg(previous), cut, last=index == len(doses) - 1)
        length = base * LENGTHEN_FACTOR if Flag.EXTENDED in flags else base
        step = Step(
            index=index,
            start_date=start,
            end_date=start + dt.timedelta(days=length - 1),
            daily_dose_mg=to_decimal(grid.mg(dose)),
            cut_pct=round_tenth(cut),
            flags=flags,
            administrations=_administrations(grid, dose, times),
        )
        steps.append(step)
        warnings.extend(_warnings(settings, step, to_decimal(grid.mg(previous)), base))
        start = step.end_date + dt.timedelta(days=1)
    return TaperPlan(steps=tuple(steps), warnings=tuple(warnings))


def _flags(
    settings: TaperSettings, previous: Fraction, cut: Fraction, *, last: bool
) -> tuple[Flag, ...]:
    """No flag within the cap; above it, jump_off for the last move from at or below the
    floor, otherwise a step needing approval, lengthened."""
    if cut <= Fraction(settings.max_cut_pct):
        return ()
    if last and previous <= Fraction(settings.floor_dose_mg):
        found = {Flag.JUMP_OFF}
    else:
        found = {Flag.EXCEEDS_CAP, Flag.EXTENDED}
    return tuple(f for f in FLAG_ORDER if f in found)


def _administrations(
    grid: DoseGrid, dose: int, times: tuple[str, ...]
) -> tuple[Administration, ...]:
    """The day's shares, smaller ones first: the larger shares go to the later times."""
    return tuple(
        Administration(
            time=time, dose_mg=to_decimal(grid.mg(share)), components=grid.components(share)
        )
        for time, share in zip(times, grid.split(dose), strict=True)
    )


def _warnings(settings: TaperSettings, step: Step, previous: Decimal, base: int) -> list[str]:
    cap = text(settings.max_cut_pct)
    if Flag.EXCEEDS_CAP in step.flags:
        return [
            f"step {step.index} cuts {step.cut_pct}%, above the {cap}% cap: needs approval; "
            f"lengthened from {base} to {step.days} days"
        ]
    if Flag.JUMP_OFF in step.flags:
        return [
            f"step {step.index} goes from {text(previous)} mg to the {text(step.daily_dose_mg)} mg "
            f"target, a {step.cut_pct}% cut above the {cap}% cap, allowed from at or below the "
            f"{text(settings.floor_dose_mg)} mg floor"
        ]
    return []
