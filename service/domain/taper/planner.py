"""Taper plan generation: the next dose at each step, flags, dates and breakdowns.

Rounding is toward safety. The algorithm proposes an ideal next dose; the plan takes
the smallest achievable dose at or above it that is strictly below the current dose
and within the cap, else the smallest cut within the cap. The cap bounds the cuts
made in any 14 days (ASAM 2025): the bound at a step is the cap taken from the dose
13 days before it, and a dose held for less than 14 days keeps its share of the
fortnight's cut, so short steps cut less and a step is held longer when the
fortnight's cut is used up. Tablets come first: the liquid makes a dose only when
tablets cannot make a step within the cap, and from then on (the tail) the plan keeps
to it (docs/clinical.md, "Taper planner").

When nothing is within the cap even after the fortnight has passed, the plan takes
the largest achievable dose below the current one: a cut forced by the formulations'
grid, flagged `grid_limited` and lengthened, approved once with the plan. From a dose
at or below `floor_dose_mg` the next step is the target; a cut there above the cap is
expected, not flagged (a `jump_off` note says so).

The day's dose is shared across the times as evenly as the formulations allow, the
larger share at `larger_dose_time`, and no time's amount ever rises from one step to
the next: a dose whose shares would is passed over.

Durations: each step lasts `interval_days`, or `slow_interval_days` when its dose is
strictly below `slow_below_mg`; manual steps last what the clinician entered. The
target step lasts one such interval too (after a stop, the observation period when
withdrawal is most likely; for a maintained dose, the first interval on it), after
which the plan ends.
"""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import NoReturn

from service.domain.errors import DomainValidationError
from service.domain.taper.arith import PLAN_CONTEXT, round_tenth, to_decimal
from service.domain.taper.checks import validate
from service.domain.taper.grid import DoseGrid, units_of
from service.domain.taper.notes import plan_notes
from service.domain.taper.plan import FLAG_ORDER, Administration, Flag, Step, TaperPlan
from service.domain.taper.settings import (
    CAP_WINDOW_DAYS,
    MAX_PLAN_DAYS,
    MAX_STEPS,
    SHORT_STEP_DAYS,
    Hyperbolic,
    Linear,
    Manual,
    Percent,
    TaperSettings,
    ordered_times,
    share_order,
)

# A step whose cut exceeds the cap lasts this many times its interval: twice the time
# to settle keeps the average pace near the cap (a 50% cut over 4 weeks ~ 25% every
# 2 weeks, the ASAM ceiling). A product default; the clinician sets the real duration
# when approving the step.
LENGTHEN_FACTOR = 2
_HUNDRED = Fraction(100)


@dataclass(frozen=True, kw_only=True)
class _Found:
    dose: int
    shares: tuple[int, ...]
    liquid: bool


@dataclass(kw_only=True)
class _Draft:
    """A step being planned: dose and per-time shares in grid units, days from the start."""

    dose: int
    shares: tuple[int, ...]
    start: int
    days: int
    flags: set[Flag] = field(default_factory=set)
    clamped: bool = False
    # In the plan's tail: taken as a measured volume (with whole tablets at most).
    liquid: bool = False


def plan_taper(settings: TaperSettings) -> TaperPlan:
    """The plan for valid settings; DomainValidationError naming each bad field otherwise."""
    with localcontext(PLAN_CONTEXT):
        grid = validate(settings)
        walk = _Walk(settings, grid)
        drafts = walk.manual() if isinstance(settings.algorithm, Manual) else walk.generated()
        return _assemble(settings, walk, drafts)


class _Walk:
    """Steps from the start dose down to the target, one at a time."""

    def __init__(self, settings: TaperSettings, grid: DoseGrid) -> None:
        self.s = settings
        self.full = grid
        # Tablets first: a dose they make is taken with tablets at every time of day.
        # Once a step needs the liquid, the plan is in its tail and keeps to the liquid.
        self.tablets = grid.tablets_only()
        self.grids = (grid,) if self.tablets is None else (self.tablets, grid)
        self.order = share_order(settings.times, settings.larger_dose_time)
        self.target = _units(settings.target_dose_mg, grid)
        self.keep = 1 - Fraction(settings.max_cut_pct) / _HUNDRED
        self.drafts: list[_Draft] = []
        self._reaches: dict[tuple[int, tuple[int, ...]], list[int]] = {}

    # Building blocks

    def shares(self, grid: DoseGrid, dose: int) -> tuple[int, ...]:
        """The day's shares by chronological time: the largest at the chosen time."""
        out = [0] * len(self.order)
        for position, share in zip(self.order, sorted(grid.split(dose), reverse=True), strict=True):
            out[position] = share
        return tuple(out)

    def fitting(self, dose: int, ceiling: tuple[int, ...] | None) -> tuple[int, ...] | None:
        """Shares for a dose, tablets first, none above the previous step's at any time."""
        for grid in dict.fromkeys((*self.grids, self.full)):
            if grid.achievable(dose):
                shares = self._fits(grid, dose, ceiling)
                if shares is not None:
                    return shares
        return None

    def within(self, ideal: int, low: int, high: int) -> _Found | None:
        """The next dose within the cap, tablets first: the smallest at or above the
        ideal, else the largest below it (the smallest cut the cap allows); only when
        tablets make neither does the liquid."""
        for grid in self.grids:
            found = self.pick(grid, ideal, high) or self.pick(grid, low, high, smallest=False)
            if found is not None:
                return found
        return None

    def pick(self, grid: DoseGrid, low: int, high: int, *, smallest: bool = True) -> _Found | None:
        """The smallest (or largest) dose of a grid in [low, high) with fitting shares."""
        ceiling = self.drafts[-1].shares if self.drafts else None
        candidates: Iterator[int] = (
            grid.upwards(low, high) if smallest else grid.downwards(low, high)
        )
        for dose in candidates:
            shares = self._fits(grid, dose, ceiling)
            if shares is not None:
                return _Found(dose=dose, shares=shares, liquid=self.liquid(grid))
        return None

    def closest_below(self, high: int) -> _Found | None:
        """The largest dose below `high` (and at or above the target) that the
        formulations make with fitting shares, with tablets alone when they make it."""
        ceiling = self.drafts[-1].shares
        for dose in self.full.downwards(self.target, high):
            for grid in self.grids:
                if grid.achievable(dose):
                    shares = self._fits(grid, dose, ceiling)
                    if shares is not None:
                        return _Found(dose=dose, shares=shares, liquid=self.liquid(grid))
        return None

    def liquid(self, grid: DoseGrid) -> bool:
        """Whether doses from this grid start or continue the tail."""
        return self.tablets is not None and grid is self.full

    def bounded(self, dose: int) -> tuple[int, ...]:
        """Shares of the target under the previous step's, or its usual shares when
        there are none (a maintained target the step before left no room for)."""
        found = self._bounded(self.full, dose, self.drafts[-1].shares)
        return found if found is not None else self.shares(self.full, dose)

    def _fits(
        self, grid: DoseGrid, dose: int, ceiling: tuple[int, ...] | None
    ) -> tuple[int, ...] | None:
        """The day's usual shares of a dose if none is above the previous step's at its
        time; otherwise shares that keep under them, or None when there are none."""
        if ceiling is None or len(ceiling) == 1:
            return self.shares(grid, dose)
        if not self._reach(grid, ceiling)[0] >> dose & 1:
            return None
        shares = self.shares(grid, dose)
        if all(a <= b for a, b in zip(shares, ceiling, strict=True)):
            return shares
        return self._bounded(grid, dose, ceiling)

    def _bounded(
        self, grid: DoseGrid, dose: int, ceiling: tuple[int, ...]
    ) -> tuple[int, ...] | None:
        """Shares of a dose none above the ceiling at its time, each in turn (chosen time
        first) as near an equal share of what is left as the rest allows."""
        reach = self._reach(grid, ceiling)
        if not reach[0] >> dose & 1:
            return None
        values = grid.administration_doses
        out = [0] * len(self.order)
        remaining = dose
        for k, position in enumerate(self.order):
            fair = -(-remaining // (len(self.order) - k))
            top = min(ceiling[position], remaining)
            usable = [
                v
                for v in values[: bisect_right(values, top)]
                if reach[k + 1] >> (remaining - v) & 1
            ]
            share = min(usable, key=lambda v: (abs(v - fair), -v))
            out[position] = share
            remaining -= share
        ordered = [0] * len(self.order)
        for position, share in zip(self.order, sorted(out, reverse=True), strict=True):
            ordered[position] = share
        if all(a <= b for a, b in zip(ordered, ceiling, strict=True)):
            return tuple(ordered)
        return tuple(out)

    def _reach(self, grid: DoseGrid, ceiling: tuple[int, ...]) -> list[int]:
        """reach[k]: the sums the times from the k-th (in share order) on can make, each
        at most its ceiling, as a bitset."""
        key = (id(grid), ceiling)
        if key not in self._reaches:
            values = grid.administration_doses
            reach = [1]
            for position in reversed(self.order):
                bits = 0
                for v in values[: bisect_right(values, ceiling[position])]:
                    bits |= reach[-1] << v
                reach.append(bits)
            self._reaches[key] = reach[::-1]
        return self._reaches[key]

    def dose_on(self, day: int) -> int:
        """The daily dose taken on a day of the plan (the start dose before it)."""
        for draft in reversed(self.drafts):
            if draft.start <= day:
                return draft.dose
        return self.full.size

    def cap_low(self, day: int, held: int) -> int:
        """The lowest dose a step starting on `day`, after the current dose was held for
        `held` days, may take within the cap: the cuts in any 14 days total at most the
        cap, and a dose held for less than 14 days keeps its share of the fortnight's cut
        (docs/clinical.md, "Taper planner")."""
        share = Fraction(min(held, CAP_WINDOW_DAYS), CAP_WINDOW_DAYS)
        current = self.full.mg(self.dose_on(day - 1))
        step = math.ceil(current * self._keep_for(share) / self.full.unit)
        return max(self.window_low(day), step)

    def window_low(self, day: int) -> int:
        """The lowest dose on `day` that keeps the cut since 13 days before within the cap."""
        window = self.full.mg(self.dose_on(day - CAP_WINDOW_DAYS + 1))
        return math.ceil(window * self.keep / self.full.unit)

    def _keep_for(self, share: Fraction) -> Fraction:
        """keep ** share, rounded up to 1e-6 so that the bound is exact and never looser."""
        if share == 1:
            return self.keep
        power = Decimal(self.keep.numerator) / Decimal(self.keep.denominator)
        value = power ** (Decimal(share.numerator) / Decimal(share.denominator))
        return Fraction(math.ceil(value * 1_000_000), 1_000_000)

    def interval(self, dose: int) -> int:
        s = self.s
        slow_below, slow_days = s.slow_below_mg, s.slow_interval_days
        if slow_below is not None and slow_days is not None and dose < self.units(slow_below):
            return slow_days
        return s.interval_days

    def units(self, mg: Decimal) -> Fraction:
        return Fraction(mg) / self.full.unit

    def first(self, dose: int, days: int) -> _Draft:
        shares = self.fitting(dose, None)
        assert shares is not None
        return _Draft(dose=dose, shares=shares, start=0, days=days)

    # Plans

    def generated(self) -> list[_Draft]:
        self.drafts = [self.first(self.full.size, self.interval(self.full.size))]
        while self.drafts[-1].dose > self.target:
            if len(self.drafts) == MAX_STEPS:
                _too_many_steps(self.s)
            self.drafts.append(self.next_step())
        return self.drafts

    def next_step(self) -> _Draft:
        current = self.drafts[-1]
        day = current.start + current.days
        if self.full.mg(current.dose) <= Fraction(self.s.floor_dose_mg):
            return self.jump_off(day)
        ideal = math.ceil(_ideal(self.s, self.full.mg(current.dose)) / self.full.unit)
        extra = 0
        while True:
            held = current.days + extra
            cap = self.cap_low(day + extra, held)
            low = max(cap, self.target)
            found = self.within(max(ideal, low), low, current.dose)
            if found is not None:
                return self.held(current, extra, found, clamped=ideal < cap)
            if held >= CAP_WINDOW_DAYS:
                return self.grid_limited(current, extra)
            extra += 1

    def held(self, current: _Draft, extra: int, found: _Found, *, clamped: bool) -> _Draft:
        """The next step, after holding the current one `extra` more days. Once a step
        needs the liquid, the rest of the plan is its tail and keeps to it."""
        if extra:
            current.days += extra
            current.flags.add(Flag.EXTENDED)
        liquid = current.liquid or (found.liquid and found.dose > 0)
        if liquid:
            self.grids = (self.full,)
        return _Draft(
            dose=found.dose,
            shares=found.shares,
            start=current.start + current.days,
            days=self.interval(found.dose),
            clamped=clamped,
            liquid=liquid,
        )

    def grid_limited(self, current: _Draft, extra: int) -> _Draft:
        """The smallest cut the formulations make, above the cap: flagged and lengthened."""
        found = self.closest_below(current.dose)
        if found is None:
            found = _Found(dose=self.target, shares=self.bounded(self.target), liquid=False)
        step = self.held(current, extra, found, clamped=False)
        if found.dose * self.full.unit >= self.full.mg(current.dose) * self.keep:
            # Within the cap after all: a maintained target its shares kept out.
            return step
        step.days *= LENGTHEN_FACTOR
        step.flags |= {Flag.GRID_LIMITED, Flag.EXTENDED}
        return step

    def jump_off(self, day: int) -> _Draft:
        """From at or below the floor, the target: a cut above the cap there is expected,
        not flagged (the plan's notes say so), from at or below the sourced floor."""
        shares = self.fitting(self.target, self.drafts[-1].shares) or self.bounded(self.target)
        step = _Draft(dose=self.target, shares=shares, start=day, days=self.interval(self.target))
        previous = self.full.mg(self.drafts[-1].dose)
        sourced = self.s.sourced_floor_mg
        over_cap = self.target * self.full.unit < previous * self.keep
        if over_cap and sourced is not None and previous > Fraction(sourced):
            # A floor set above the one the drug's sources give: an abrupt stop the
            # clinician approves step by step.
            step.flags |= {Flag.EXCEEDS_CAP, Flag.JUMP_OFF}
        return step

    def manual(self) -> list[_Draft]:
        """The clinician's doses and days; cuts above the cap are flagged for approval."""
        assert isinstance(self.s.algorithm, Manual)
        day = 0
        for step in self.s.algorithm.steps:
            dose = _units(step.daily_dose_mg, self.full)
            ceiling = self.drafts[-1].shares if self.drafts else None
            shares = self.fitting(dose, ceiling)
            if shares is None:
                shares = self.bounded(dose) if self.drafts else self.shares(self.full, dose)
            draft = _Draft(dose=dose, shares=shares, start=day, days=step.days)
            if self.drafts:
                draft.flags |= self.manual_flags(dose, day)
            if Flag.EXCEEDS_CAP in draft.flags:
                draft.days *= LENGTHEN_FACTOR
            self.drafts.append(draft)
            day += draft.days
        return self.drafts

    def manual_flags(self, dose: int, day: int) -> set[Flag]:
        previous = self.drafts[-1].dose
        if dose >= self.window_low(day):
            return set()
        if dose == self.target and self.full.mg(previous) <= Fraction(self.s.floor_dose_mg):
            return set()
        return {Flag.EXCEEDS_CAP, Flag.EXTENDED}


def _units(dose: Decimal, grid: DoseGrid) -> int:
    units = units_of(dose, grid.unit)
    assert units is not None
    return units


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
    message = f"This plan would need more than {MAX_STEPS} steps; use larger cuts."
    raise DomainValidationError({_step_setting(settings): [message]})


def _step_setting(settings: TaperSettings) -> str:
    paths = {
        "linear": "algorithm.step_mg",
        "percent": "algorithm.percent",
        "manual": "algorithm.steps",
    }
    return paths.get(settings.algorithm.kind, "algorithm.occupancy_step_pct")


def _assemble(settings: TaperSettings, walk: _Walk, drafts: list[_Draft]) -> TaperPlan:
    """Steps with contiguous dates, flags and breakdowns, and the notes they raise."""
    total = sum(d.days for d in drafts)
    if total > MAX_PLAN_DAYS:
        path = "interval_days" if settings.algorithm.kind != "manual" else "algorithm.steps"
        raise DomainValidationError(
            {
                path: [
                    f"This plan would last {total} days, more than {MAX_PLAN_DAYS} "
                    "(10 years); use shorter steps or larger cuts."
                ]
            }
        )
    grid = walk.full
    times = ordered_times(settings.times)
    steps: list[Step] = []
    start = settings.start_date
    for index, draft in enumerate(drafts):
        previous = drafts[index - 1].dose if index else draft.dose
        cut = Fraction(previous - draft.dose, previous) * _HUNDRED if previous else Fraction(0)
        flags = set(draft.flags)
        if draft.days < SHORT_STEP_DAYS:
            flags.add(Flag.SHORT_STEP)
        step = Step(
            index=index,
            start_date=start,
            end_date=start + dt.timedelta(days=draft.days - 1),
            daily_dose_mg=to_decimal(grid.mg(draft.dose)),
            cut_pct=round_tenth(cut),
            flags=tuple(f for f in FLAG_ORDER if f in flags),
            administrations=tuple(
                Administration(
                    time=time,
                    dose_mg=to_decimal(grid.mg(share)),
                    components=grid.components(share, liquid=draft.liquid),
                )
                for time, share in zip(times, draft.shares, strict=True)
            ),
        )
        steps.append(step)
        start = step.end_date + dt.timedelta(days=1)
    clamped = tuple(i for i, d in enumerate(drafts) if d.clamped)
    return TaperPlan(steps=tuple(steps), notes=plan_notes(settings, tuple(steps), clamped))
