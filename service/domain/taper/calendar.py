"""What an approved taper plan gives on each local date, and the doses that follow.

Every dose listing (the planned doses, the calendar beyond the planning horizon and
the reminders built from the planned doses) follows the approved plan, not the
prescription's current terms: those change only when the scheduler starts a step,
so a date weeks ahead would otherwise show today's dose (docs/clinical.md, "Taper
planner": only an approved plan is scheduled; pause, extend and step back change it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from service.domain.prescriptions import Schedule
from service.domain.schedule import DoseInstant, candidate_days, dose_instants
from service.domain.taper.plan import Step, TaperPlan
from service.domain.taper.status import UNDER_WAY, PlanStatus

Administrations = Mapping[dt.time, Decimal]
"""Time of day -> amount in mg; only the times with something to take."""


def _given(step: Step) -> Administrations:
    """The step's administrations with something to take: one of 0 mg is no dose."""
    given = {dt.time.fromisoformat(a.time): a.dose_mg for a in step.administrations}
    return MappingProxyType({t: mg for t, mg in sorted(given.items()) if mg > 0})


@dataclass(frozen=True, kw_only=True)
class TaperCalendar:
    """A plan's steps as dates and administrations, with the hold of a pause."""

    firsts: tuple[dt.date, ...]
    given: tuple[Administrations, ...]
    # From this date on the plan gives `held` (a pause holds the step current on the
    # day it was paused; nothing, None, when it was paused before its first step).
    held_from: dt.date | None = None
    held: Administrations | None = None

    def _scheduled(self, day: dt.date) -> Administrations | None:
        if day < self.firsts[0]:
            return None
        # The step begun last by `day`: dates are contiguous (docs/clinical.md, "Taper
        # planner"), and after the last step its dose stays.
        return self.given[bisect_right(self.firsts, day) - 1]

    def on(self, day: dt.date) -> Administrations | None:
        """The administrations the plan gives on local `day`; None where the plan
        does not govern the date (before its first step), and the prescription's
        terms do."""
        if self.held_from is not None and day >= self.held_from:
            return self.held
        return self._scheduled(day)


def taper_calendar(
    plan: TaperPlan, *, status: str, paused_on: dt.date | None = None
) -> TaperCalendar | None:
    """The calendar of a plan, or None when a plan of this status sets no dose. A
    paused plan needs the local date it was paused."""
    # The steps of a plan under way set the doses: approved (not started yet),
    # active and paused (holding a step). A draft is not approved; a cancelled plan
    # leaves the prescription at its current dose; a completed one has written its
    # last step as the prescription's terms (docs/clinical.md, "Taper planner").
    steps = sorted(plan.steps, key=lambda s: s.start_date)
    if status not in UNDER_WAY or not steps:
        return None
    calendar = TaperCalendar(
        firsts=tuple(s.start_date for s in steps),
        given=tuple(_given(s) for s in steps),
    )
    if status != PlanStatus.PAUSED:
        return calendar
    if paused_on is None:
        raise ValueError("a paused plan needs the date it was paused")
    return TaperCalendar(
        firsts=calendar.firsts,
        given=calendar.given,
        held_from=paused_on,
        held=calendar.on(paused_on),
    )


def administrations_on(
    plan: TaperPlan, *, status: str, paused_on: dt.date | None, day: dt.date
) -> Administrations | None:
    """What the plan gives on local `day` (time -> mg), or None where it does not
    govern that date."""
    calendar = taper_calendar(plan, status=status, paused_on=paused_on)
    return None if calendar is None else calendar.on(day)


class PlannedDose(NamedTuple):
    """One scheduled dose and its amount; `by_plan` when a taper plan gives it (the
    amount is then in mg). A tuple: planning builds one for each of some hundreds of
    thousands of doses a run, and a frozen dataclass costs several times as much."""

    instant: DoseInstant
    amount: Decimal
    by_plan: bool


def _run_doses(
    given: Administrations | None,
    days: list[dt.date],
    schedule: Schedule,
    amount: Decimal,
    *,
    start_date: dt.date,
    zone: zoneinfo.ZoneInfo,
    window: tuple[dt.datetime, dt.datetime],
) -> list[PlannedDose]:
    """The doses of consecutive `days` that share what the plan gives (`given`)."""
    first, last = days[0], days[-1]
    if given is None:
        # The prescription's terms, its every-N-days cycle still counted from its
        # start date.
        found = dose_instants(
            schedule,
            start_date=start_date,
            end_date=last,
            zone=zone,
            window_start=window[0],
            window_end=window[1],
        )
        return [
            PlannedDose(instant=d, amount=schedule.amount_at(d.slot, amount), by_plan=False)
            for d in found
            if d.day >= first
        ]
    if not given:
        return []
    # A taper step is a daily dose and a duration (docs/clinical.md, "Taper planner").
    found = dose_instants(
        Schedule(times=tuple(given)),
        start_date=first,
        end_date=last,
        zone=zone,
        window_start=window[0],
        window_end=window[1],
    )
    return [PlannedDose(instant=d, amount=given[d.slot], by_plan=True) for d in found]


def planned_doses(
    schedule: Schedule,
    amount: Decimal,
    calendar: TaperCalendar | None,
    *,
    start_date: dt.date,
    end_date: dt.date | None,
    zone: zoneinfo.ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> list[PlannedDose]:
    """Doses with window_start <= at < window_end, sorted by instant: on a date the
    taper plan governs, its administrations with their amounts; on any other, the
    prescription's schedule with `amount` (its dose). Dates outside the
    prescription's start and end dates have none. Times follow dose_instants
    (DST and the half-open window included), and so does one instant claimed by two
    slots: it fires once, as the earliest day and slot."""
    if calendar is None:
        return [
            PlannedDose(instant=d, amount=schedule.amount_at(d.slot, amount), by_plan=False)
            for d in dose_instants(
                schedule,
                start_date=start_date,
                end_date=end_date,
                zone=zone,
                window_start=window_start,
                window_end=window_end,
            )
        ]
    window = (window_start, window_end)
    found: list[PlannedDose] = []
    days = candidate_days(
        start_date=start_date,
        end_date=end_date,
        zone=zone,
        window_start=window_start,
        window_end=window_end,
    )
    for given, run in itertools.groupby(days, key=calendar.on):
        found.extend(
            _run_doses(
                given, list(run), schedule, amount, start_date=start_date, zone=zone, window=window
            )
        )
    found.sort(key=lambda p: (p.instant.at, p.instant.day, p.instant.slot))
    return [p for i, p in enumerate(found) if i == 0 or found[i - 1].instant.at != p.instant.at]
