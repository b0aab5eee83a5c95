"""Dose schedules as instants, the as-needed (PRN) limits, and adherence maths.

Times follow docs/architecture.md "Time": instants are UTC, a schedule is wall-clock
times in the patient's IANA zone, a dose at 08:00 stays at 08:00 local across DST,
a wall time skipped by a spring-forward gap fires at the first valid instant after
it, and an ambiguous (fall-back) wall time fires once, at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import zoneinfo
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from service.domain.doses import DoseStatus
from service.domain.prescriptions import WEEKDAYS, Schedule

_ONE_DAY = dt.timedelta(days=1)
# A slot can belong to the local day before the window's first local date when a
# gap spanning midnight moves it forward (Samoa skipped the whole of 2011-12-30),
# and to the day after the window's last local date when a fold spanning midnight
# replays the evening after it (St. John's fell back from 00:01 to 23:01 until
# 2011). No gap or fold in the tz database is longer than a day, so one day either
# side is enough; candidates are then filtered exactly.
_DAYS_BEFORE_WINDOW = dt.timedelta(days=1)
_DAYS_AFTER_WINDOW = dt.timedelta(days=1)
# docs/clinical.md, "Dose schedules and reminders": "a maximum per day" for as-needed
# doses, read as any rolling 24 hours so that doses clustered around midnight cannot
# reach twice it.
ROLLING_DAY = dt.timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class DoseInstant:
    """One scheduled dose: when it fires, and which day and slot it stands for."""

    at: dt.datetime
    local: dt.datetime
    slot: dt.time
    day: dt.date


def _require_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


def _require_window(window_start: dt.datetime, window_end: dt.datetime) -> None:
    _require_aware("window_start", window_start)
    _require_aware("window_end", window_end)
    if window_end < window_start:
        raise ValueError(f"window_end {window_end} is before window_start {window_start}")


def _wall_clock(at: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def _gap_end(wall: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The transition instant that skips over `wall`, found by bisection on seconds.

    PEP 495 maps a nonexistent wall time with fold=1 to an instant before the
    transition and with fold=0 to one after it, so the transition lies between the
    two whatever the gap's length (30 minutes on Lord Howe Island, a day in Samoa).
    The tz database puts transitions on whole seconds, so the search is exact.
    """
    before = wall.replace(tzinfo=zone, fold=1).timestamp()
    after = wall.replace(tzinfo=zone, fold=0).timestamp()
    low, high = math.floor(before), math.ceil(after)
    while high - low > 1:
        middle = (low + high) // 2
        if _wall_clock(dt.datetime.fromtimestamp(middle, dt.UTC), zone) < wall:
            low = middle
        else:
            high = middle
    return dt.datetime.fromtimestamp(high, dt.UTC)


def wall_time_instant(day: dt.date, slot: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant at which `slot` on local `day` fires in `zone`.

    A wall time exists when converting it to UTC and back gives it again; fold=0
    picks the first of two occurrences. One that does not exist fires when the
    clocks jump past it.
    """
    local = dt.datetime.combine(day, slot, tzinfo=zone)
    if local.fold:
        local = local.replace(fold=0)
    at = local.astimezone(dt.UTC)
    # Datetimes sharing one tzinfo compare by wall clock alone, fold ignored.
    if at.astimezone(zone) == local:
        return at
    return _gap_end(local.replace(tzinfo=None), zone)


def candidate_days(
    *,
    start_date: dt.date,
    end_date: dt.date | None,
    zone: zoneinfo.ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> Iterator[dt.date]:
    """Local days whose slots can fall in the window, never walking from start_date."""
    first = max(start_date, window_start.astimezone(zone).date() - _DAYS_BEFORE_WINDOW)
    last = window_end.astimezone(zone).date() + _DAYS_AFTER_WINDOW
    if end_date is not None:
        last = min(last, end_date)
    day = first
    while day <= last:
        yield day
        day += _ONE_DAY


def is_dose_day(schedule: Schedule, start_date: dt.date, day: dt.date) -> bool:
    """Every-N-days counts from start_date, so a restart re-anchors the cycle."""
    if (day - start_date).days % schedule.every_n_days:
        return False
    return schedule.days_of_week is None or WEEKDAYS[day.weekday()] in schedule.days_of_week


def _resolved_slots(
    days: Iterable[dt.date],
    slots: Sequence[dt.time],
    zone: zoneinfo.ZoneInfo,
    not_before: dt.datetime,
) -> Iterator[tuple[dt.date, dt.time, dt.datetime]]:
    """(day, slot, instant) in day-then-slot order, skipping days wholly before `not_before`.

    Resolution is monotonic: each slot fires at the first instant whose wall time is
    at or past it, so a later wall time never fires earlier. One conversion of a
    day's last slot therefore decides whether the whole day is already over.
    """
    for day in days:
        if wall_time_instant(day, slots[-1], zone) < not_before:
            continue
        for slot in slots:
            yield day, slot, wall_time_instant(day, slot, zone)


def dose_instants(
    schedule: Schedule,
    *,
    start_date: dt.date,
    end_date: dt.date | None,
    zone: zoneinfo.ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
) -> list[DoseInstant]:
    """Scheduled doses with window_start <= at < window_end, sorted by instant.

    The window is half-open so that adjacent windows (one materialisation run
    after another) neither repeat nor drop a dose at the seam. Slots that land on
    the same instant (several inside one gap) fire once, as the earliest day and
    slot, because a dose event is unique per prescription and instant. As-needed
    schedules have no scheduled doses.
    """
    _require_window(window_start, window_end)
    if schedule.every_n_days < 1:
        raise ValueError(f"every_n_days must be at least 1, got {schedule.every_n_days}")
    if schedule.as_needed or not schedule.times or window_start == window_end:
        return []
    days = candidate_days(
        start_date=start_date,
        end_date=end_date,
        zone=zone,
        window_start=window_start,
        window_end=window_end,
    )
    dose_days = (day for day in days if is_dose_day(schedule, start_date, day))
    found: list[DoseInstant] = []
    for day, slot, at in _resolved_slots(dose_days, sorted(schedule.times), zone, window_start):
        if at >= window_end:
            break
        if at >= window_start and (not found or found[-1].at != at):
            found.append(DoseInstant(at=at, local=at.astimezone(zone), slot=slot, day=day))
    return found


def _hours(value: Decimal | None) -> dt.timedelta:
    """Hours as a timedelta, rounded up to the microsecond so a limit never shrinks."""
    if value is None:
        return dt.timedelta(0)
    micros = (value * 3_600_000_000).to_integral_value(rounding=ROUND_CEILING)
    return dt.timedelta(microseconds=int(micros))


def _count_in_day_ending(taken: Sequence[dt.datetime], end: dt.datetime) -> int:
    """Doses in the rolling day (end - 24 h, end]; `taken` is sorted."""
    return bisect_right(taken, end) - bisect_right(taken, end - ROLLING_DAY)


def _prn_allowed(
    taken: Sequence[dt.datetime], at: dt.datetime, max_doses: int, interval: dt.timedelta
) -> bool:
    """Whether a dose at `at` keeps every rolling day and every interval within limits.

    The rolling days that contain `at` end at `at` or at a later dose less than a
    day after it; the count only rises at a dose, so those ends are the ones to check.
    """
    if any(abs(at - other) < interval for other in taken):
        return False
    ends = [at, *(other for other in taken if at < other < at + ROLLING_DAY)]
    return all(_count_in_day_ending(taken, end) < max_doses for end in ends)


def next_prn_allowed(
    previous: Sequence[dt.datetime],
    *,
    at: dt.datetime,
    max_doses_per_day: int,
    min_hours_between: Decimal | None,
) -> dt.datetime | None:
    """None if an as-needed dose at `at` is within limits, else the earliest instant it is.

    "Per day" means any rolling 24 hours, not the calendar day: a calendar-day
    reading would let a patient take the maximum at 23:00 and again at 01:00.
    A dose exactly 24 hours after another no longer shares its day, and one exactly
    `min_hours_between` after another is allowed.

    `previous` counts in full, including doses logged as taken after `at`: a dose
    is safe only relative to its neighbours on both sides, and a late entry that
    sits too close to a later recorded dose breaks the limits just as much as one
    logged in order. The answer is returned in UTC.
    """
    _require_aware("at", at)
    for index, other in enumerate(previous):
        _require_aware(f"previous[{index}]", other)
    if max_doses_per_day < 1:
        raise ValueError(f"max_doses_per_day must be at least 1, got {max_doses_per_day}")
    interval = _hours(min_hours_between)
    taken = sorted(previous)
    if _prn_allowed(taken, at, max_doses_per_day, interval):
        return None
    # Every forbidden stretch ends where the interval or the rolling day after some
    # recorded dose ends, so the earliest allowed instant is one of those ends.
    ends = sorted({end for other in taken for end in (other + interval, other + ROLLING_DAY)})
    allowed = (
        end for end in ends if end > at and _prn_allowed(taken, end, max_doses_per_day, interval)
    )
    return next(allowed).astimezone(dt.UTC)


class DoseOutcome(enum.StrEnum):
    ON_TIME = "on_time"
    EARLY = "early"
    LATE = "late"
    SKIPPED = "skipped"
    MISSED = "missed"
    PENDING = "pending"


_OUTCOME_OF_STATUS: dict[str, DoseOutcome] = {
    DoseStatus.PENDING: DoseOutcome.PENDING,
    DoseStatus.REMINDED: DoseOutcome.PENDING,
    DoseStatus.SKIPPED: DoseOutcome.SKIPPED,
    DoseStatus.MISSED: DoseOutcome.MISSED,
}


def classify(
    *,
    scheduled_at: dt.datetime,
    status: str,
    taken_at: dt.datetime | None,
    on_time_window: dt.timedelta,
) -> DoseOutcome:
    """The adherence outcome of one dose event.

    A dose taken within `on_time_window` of its scheduled instant, either side and
    the bounds included, is on time; one taken more than that before it is early,
    more than that after it late. Both are off the prescribed rhythm, and a
    clinician reads them differently (doses bunched together, or a dose forgotten).
    """
    if on_time_window < dt.timedelta(0):
        raise ValueError(f"on_time_window must not be negative, got {on_time_window}")
    if status in _OUTCOME_OF_STATUS:
        return _OUTCOME_OF_STATUS[status]
    if status != DoseStatus.TAKEN:
        raise ValueError(f"unknown dose status {status!r}")
    if taken_at is None:
        raise ValueError("a taken dose needs taken_at")
    _require_aware("scheduled_at", scheduled_at)
    _require_aware("taken_at", taken_at)
    if abs(taken_at - scheduled_at) <= on_time_window:
        return DoseOutcome.ON_TIME
    return DoseOutcome.EARLY if taken_at < scheduled_at else DoseOutcome.LATE


@dataclass(frozen=True, kw_only=True)
class Adherence:
    """Outcome counts; pending doses are shown but are not yet a success or failure."""

    on_time: int = 0
    early: int = 0
    late: int = 0
    skipped: int = 0
    missed: int = 0
    pending: int = 0

    @property
    def taken(self) -> int:
        """Doses taken at any time: on time, early or late."""
        return self.on_time + self.early + self.late

    @property
    def due(self) -> int:
        """Settled doses: taken, skipped or missed (pending ones are not yet due)."""
        return self.taken + self.skipped + self.missed

    @property
    def percentage(self) -> Decimal | None:
        """Doses taken (at any time) per settled dose, in percent to one decimal.

        None when nothing is settled yet, so an empty record is not shown as 0 %.
        """
        return _percent(self.taken, self.due)

    @property
    def on_time_percentage(self) -> Decimal | None:
        """Doses taken on time per settled dose, in percent to one decimal."""
        return _percent(self.on_time, self.due)


def _percent(part: int, whole: int) -> Decimal | None:
    """part / whole in percent to one decimal; integer arithmetic rounds half up
    exactly, with no float or context rounding."""
    if whole == 0:
        return None
    tenths = (part * 2000 + whole) // (2 * whole)
    return Decimal(tenths).scaleb(-1)


def summarize(outcomes: Iterable[DoseOutcome]) -> Adherence:
    """Adherence over a set of dose outcomes."""
    counts = Counter(outcomes)
    return Adherence(**{outcome.value: counts[outcome] for outcome in DoseOutcome})
