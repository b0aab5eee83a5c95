"""What each dose and each day takes of each formulation, along an approved taper or
a prescription's schedule (docs/clinical.md, "Supply and refills").

On a date a taper plan governs, a dose takes the components the plan's step gives at
its time: the plan names tablets and volumes. On any other date, a dose in mg is made
from the formulations the patient has, as the planner would make it (tablets before a
liquid, the fewest pieces); a dose in tablets or mL is counted from the one solid or
liquid the patient has.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from service.domain.prescriptions import Dose, Schedule
from service.domain.schedule import is_dose_day
from service.domain.supply.use import (
    Use,
    added,
    administration_at,
    administration_use,
    step_use,
)
from service.domain.taper.formulations import TaperFormulation, canonical
from service.domain.taper.grid import MAX_LEVELS, DoseGrid, grid_unit, units_of
from service.domain.taper.plan import Step, TaperPlan
from service.domain.taper.status import UNDER_WAY, PlanStatus

NOTHING: Use = {}
SOLID_UNITS = ("tablet", "capsule")


def dose_use(dose: Dose, choices: Sequence[TaperFormulation]) -> Use | None:
    """What one dose of a prescription's terms takes from `choices`; None when they
    cannot make it (or which of several to count cannot be told)."""
    return _dose_use(dose.amount, dose.unit, tuple(choices))


@lru_cache(maxsize=1024)
def _dose_use(amount: Decimal, unit: str, choices: tuple[TaperFormulation, ...]) -> Use | None:
    tablets, liquids = canonical(choices)
    if unit in SOLID_UNITS:
        solids = [t for t in tablets if t.form.startswith(unit)]
        return {solids[0].label: amount} if len(solids) == 1 else None
    if unit == "mL":
        return {liquids[0].label: amount} if len(liquids) == 1 else None
    if unit != "mg" or not choices:
        return None
    unit_mg = grid_unit(tablets, liquids)
    size = units_of(amount, unit_mg)
    if size is None or size > MAX_LEVELS:
        return None
    grid = DoseGrid(tablets=tablets, liquids=liquids, administrations=1, unit=unit_mg, size=size)
    if not grid.achievable(size):
        return None
    return added({c.formulation: _amount(c.units, c.ml)} for c in grid.components(size))


def _amount(units: Decimal | None, ml: Decimal | None) -> Decimal:
    return units if units is not None else (ml or Decimal(0))


@dataclass(frozen=True, kw_only=True)
class PlanDays:
    """The steps of a plan under way by date, with the hold of a pause."""

    firsts: tuple[dt.date, ...]
    steps: tuple[Step, ...]
    held_from: dt.date | None = None

    def step_on(self, day: dt.date) -> Step | None:
        """The step that sets `day`'s doses; None before the plan's first step. A
        paused plan holds the step current on the day it was paused (none when paused
        before it began); after the last step its dose stays."""
        if self.held_from is not None and day >= self.held_from:
            day = self.held_from
        if day < self.firsts[0]:
            return None
        return self.steps[bisect_right(self.firsts, day) - 1]

    @property
    def ends_on(self) -> dt.date:
        return self.steps[-1].end_date


def plan_days(plan: TaperPlan, *, status: str, paused_on: dt.date | None) -> PlanDays | None:
    """The plan's days, or None when a plan of this status sets no dose (as the
    calendar of doses reads it: docs/clinical.md, "Taper planner")."""
    steps = tuple(sorted(plan.steps, key=lambda s: s.start_date))
    if status not in UNDER_WAY or not steps:
        return None
    held = paused_on if status == PlanStatus.PAUSED else None
    return PlanDays(firsts=tuple(s.start_date for s in steps), steps=steps, held_from=held)


def planned_dose_use(days: PlanDays, day: dt.date, slot: dt.time, amount_mg: Decimal) -> Use | None:
    """What the plan's dose at local `day` and `slot` took, when the plan still gives
    that dose then; None when it does not (the dose was planned under other terms)."""
    step = days.step_on(day)
    given = administration_at(step, slot) if step is not None else None
    if given is None or given.dose_mg != amount_mg:
        return None
    return administration_use(given)


@dataclass(frozen=True, kw_only=True)
class Terms:
    """A prescription's terms as they bear on supply."""

    dose: Dose
    schedule: Schedule
    start_date: dt.date
    end_date: dt.date | None


def daily_use(
    terms: Terms,
    choices: Sequence[TaperFormulation],
    days: PlanDays | None,
    *,
    as_needed_rate: Use | None = None,
) -> Callable[[dt.date], Use]:
    """What each local date takes of each formulation: the plan's step on the dates it
    governs, otherwise the prescription's schedule (or, for an as-needed drug, its
    recent rate of use)."""
    per_dose = dose_use(terms.dose, choices) or NOTHING
    schedule = terms.schedule
    by_slot = [
        dose_use(
            Dose(amount=schedule.amount_at(t, terms.dose.amount), unit=terms.dose.unit), choices
        )
        or NOTHING
        for t in schedule.times
    ]
    scheduled = (
        added(by_slot) if schedule.amounts is not None else added([per_dose] * len(schedule.times))
    )
    step_uses: dict[dt.date, Use] = {}

    def on(day: dt.date) -> Use:
        step = days.step_on(day) if days is not None else None
        if step is not None:
            if step.start_date not in step_uses:
                step_uses[step.start_date] = step_use(step)
            return step_uses[step.start_date]
        if day < terms.start_date or (terms.end_date is not None and day > terms.end_date):
            return NOTHING
        if schedule.as_needed:
            return as_needed_rate or NOTHING
        return scheduled if is_dose_day(schedule, terms.start_date, day) else NOTHING

    return on


def rate(draws_per_formulation: Use, days: int) -> Use:
    """A daily rate from what was taken over `days` days."""
    if days <= 0:
        return NOTHING
    return {k: v / days for k, v in draws_per_formulation.items() if v > 0}
