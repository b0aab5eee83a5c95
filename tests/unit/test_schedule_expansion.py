"""Schedules expanded to UTC instants across DST, against real tz data.

The expected instants in the tables are worked out by hand from each zone's
offsets; the properties compare against a brute-force oracle that finds every
instant with a given wall time from the zone's offsets, not by round trips.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from service.domain.prescriptions import WEEKDAYS, Schedule
from service.domain.schedule import DoseInstant, dose_instants

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = (NEW_YORK, LONDON, LORD_HOWE, KOLKATA)
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)
T0130, T0215, T0230, T0800, T2000 = (
    dt.time(1, 30),
    dt.time(2, 15),
    dt.time(2, 30),
    dt.time(8),
    dt.time(20),
)
TWICE_DAILY = Schedule(times=(T0800, T2000))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def expand(
    schedule: Schedule,
    zone: ZoneInfo,
    window_start: dt.datetime,
    window_end: dt.datetime,
    *,
    start_date: dt.date = dt.date(2026, 1, 1),
    end_date: dt.date | None = None,
) -> list[DoseInstant]:
    return dose_instants(
        schedule,
        start_date=start_date,
        end_date=end_date,
        zone=zone,
        window_start=window_start,
        window_end=window_end,
    )


def on_day(schedule: Schedule, zone: ZoneInfo, day: dt.date) -> list[DoseInstant]:
    """Every dose of local `day`, with a generous window either side."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=UTC) - dt.timedelta(days=2)
    doses = expand(schedule, zone, start, start + dt.timedelta(days=5))
    return [d for d in doses if d.day == day]


@lru_cache
def transitions(zone: ZoneInfo, year: int) -> tuple[dt.datetime, ...]:
    """UTC instants in `year` where the zone's offset changes, found by scanning hours."""
    found = []
    at, end = utc(year, 1, 1), utc(year + 1, 1, 1)
    while at < end:
        if at.astimezone(zone).utcoffset() != (at + HOUR).astimezone(zone).utcoffset():
            low, high = at, at + HOUR
            while high - low > SECOND:
                middle = low + (high - low) / 2
                same = middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            found.append(high.replace(microsecond=0))
        at += HOUR
    return tuple(found)


def offset_change(zone: ZoneInfo, at: dt.datetime) -> dt.timedelta:
    after = at.astimezone(zone).utcoffset()
    before = (at - SECOND).astimezone(zone).utcoffset()
    assert after is not None
    assert before is not None
    return after - before


def wall(at: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return at.astimezone(zone).replace(tzinfo=None)


# New York, 2026: EST (-05:00) until 2026-03-08 02:00, EDT (-04:00) until
# 2026-11-01 02:00, EST again after.
NEW_YORK_TABLE = [
    (dt.date(2026, 3, 7), T0800, utc(2026, 3, 7, 13)),
    (dt.date(2026, 3, 7), T2000, utc(2026, 3, 8, 1)),
    (dt.date(2026, 3, 8), T0800, utc(2026, 3, 8, 12)),
    (dt.date(2026, 3, 8), T2000, utc(2026, 3, 9, 0)),
    (dt.date(2026, 3, 9), T0800, utc(2026, 3, 9, 12)),
    (dt.date(2026, 10, 31), T0800, utc(2026, 10, 31, 12)),
    (dt.date(2026, 10, 31), T2000, utc(2026, 11, 1, 0)),
    (dt.date(2026, 11, 1), T0800, utc(2026, 11, 1, 13)),
    (dt.date(2026, 11, 1), T2000, utc(2026, 11, 2, 1)),
    (dt.date(2026, 11, 2), T0800, utc(2026, 11, 2, 13)),
]


@pytest.mark.parametrize(("day", "slot", "expected"), NEW_YORK_TABLE)
def test_new_york_doses_keep_their_wall_time_across_dst(
    day: dt.date, slot: dt.time, expected: dt.datetime
) -> None:
    doses = {d.slot: d for d in on_day(TWICE_DAILY, NEW_YORK, day)}
    assert doses[slot].at == expected
    assert doses[slot].at.tzinfo is UTC
    assert doses[slot].local.replace(tzinfo=None) == dt.datetime.combine(day, slot)
    assert doses[slot].local == doses[slot].at.astimezone(NEW_YORK)


def test_new_york_twice_daily_all_year() -> None:
    doses = expand(TWICE_DAILY, NEW_YORK, utc(2026, 1, 1, 5), utc(2027, 1, 1, 5))
    assert len(doses) == 2 * 365
    assert {d.local.time() for d in doses} == {T0800, T2000}
    assert all(d.local.date() == d.day for d in doses)


def test_new_york_ambiguous_time_fires_once_at_first_occurrence() -> None:
    doses = on_day(Schedule(times=(T0130,)), NEW_YORK, dt.date(2026, 11, 1))
    assert [d.at for d in doses] == [utc(2026, 11, 1, 5, 30)]
    assert doses[0].local.fold == 0
    assert doses[0].local.utcoffset() == dt.timedelta(hours=-4)


def test_new_york_nonexistent_time_fires_when_clocks_jump() -> None:
    [dose] = on_day(Schedule(times=(T0230,)), NEW_YORK, dt.date(2026, 3, 8))
    assert dose.at == utc(2026, 3, 8, 7)
    assert dose.local.replace(tzinfo=None) == dt.datetime(2026, 3, 8, 3)
    assert dose.slot == T0230


def test_two_slots_in_one_gap_fire_once() -> None:
    schedule = Schedule(times=(T0215, dt.time(2, 45), T0800))
    doses = on_day(schedule, NEW_YORK, dt.date(2026, 3, 8))
    assert [(d.slot, d.at) for d in doses] == [
        (T0215, utc(2026, 3, 8, 7)),
        (T0800, utc(2026, 3, 8, 12)),
    ]


@pytest.mark.parametrize(
    ("day", "slot", "expected"),
    [
        # GMT -> BST at 01:00 on 2026-03-29: 01:30 does not exist.
        (dt.date(2026, 3, 28), T0800, utc(2026, 3, 28, 8)),
        (dt.date(2026, 3, 29), T0130, utc(2026, 3, 29, 1)),
        (dt.date(2026, 3, 29), T0800, utc(2026, 3, 29, 7)),
        # BST -> GMT at 02:00 on 2026-10-25: 01:30 happens twice; BST first.
        (dt.date(2026, 10, 25), T0130, utc(2026, 10, 25, 0, 30)),
        (dt.date(2026, 10, 25), T0800, utc(2026, 10, 25, 8)),
        (dt.date(2026, 10, 24), T0800, utc(2026, 10, 24, 7)),
    ],
)
def test_london(day: dt.date, slot: dt.time, expected: dt.datetime) -> None:
    doses = on_day(Schedule(times=(slot,)), LONDON, day)
    assert [d.at for d in doses] == [expected]


def test_lord_howe_shifts_by_thirty_minutes() -> None:
    changes = transitions(LORD_HOWE, 2026)
    [spring] = [t for t in changes if offset_change(LORD_HOWE, t) > dt.timedelta(0)]
    [autumn] = [t for t in changes if offset_change(LORD_HOWE, t) < dt.timedelta(0)]
    assert offset_change(LORD_HOWE, spring) == dt.timedelta(minutes=30)
    assert offset_change(LORD_HOWE, autumn) == dt.timedelta(minutes=-30)
    spring_day = spring.astimezone(LORD_HOWE).date()
    [skipped] = on_day(Schedule(times=(T0215,)), LORD_HOWE, spring_day)
    assert wall(skipped.at, LORD_HOWE) == dt.datetime.combine(spring_day, T0230)
    assert skipped.at == spring
    autumn_day = autumn.astimezone(LORD_HOWE).date()
    [repeated] = on_day(Schedule(times=(dt.time(1, 45),)), LORD_HOWE, autumn_day)
    assert repeated.at == autumn - dt.timedelta(minutes=15)
    assert repeated.local.utcoffset() == dt.timedelta(hours=11)


def test_lord_howe_morning_dose_stays_at_eight() -> None:
    for change in transitions(LORD_HOWE, 2026):
        day = change.astimezone(LORD_HOWE).date()
        for offset in (-1, 0, 1):
            [dose] = on_day(Schedule(times=(T0800,)), LORD_HOWE, day + dt.timedelta(days=offset))
            assert dose.local.time() == T0800


@pytest.mark.parametrize("day", [dt.date(2026, 3, 8), dt.date(2026, 11, 1), dt.date(2026, 6, 1)])
def test_kolkata_has_no_dst(day: dt.date) -> None:
    [morning, evening] = on_day(TWICE_DAILY, KOLKATA, day)
    assert morning.at == dt.datetime.combine(day, dt.time(2, 30), tzinfo=UTC)
    assert evening.at == dt.datetime.combine(day, dt.time(14, 30), tzinfo=UTC)


def test_a_skipped_calendar_day_still_gets_its_doses() -> None:
    """Samoa skipped 2011-12-30: a 24-hour gap, not one hour."""
    apia = ZoneInfo("Pacific/Apia")
    schedule = Schedule(times=(dt.time(0), T0800))
    doses = expand(
        schedule, apia, utc(2011, 12, 29), utc(2012, 1, 1), start_date=dt.date(2011, 1, 1)
    )
    assert [(d.day, d.slot, d.at) for d in doses] == [
        (dt.date(2011, 12, 29), dt.time(0), utc(2011, 12, 29, 10)),
        (dt.date(2011, 12, 29), T0800, utc(2011, 12, 29, 18)),
        # Both slots of the missing day, and midnight of the next, are one instant.
        (dt.date(2011, 12, 30), dt.time(0), utc(2011, 12, 30, 10)),
        (dt.date(2011, 12, 31), T0800, utc(2011, 12, 30, 18)),
        (dt.date(2012, 1, 1), dt.time(0), utc(2011, 12, 31, 10)),
        (dt.date(2012, 1, 1), T0800, utc(2011, 12, 31, 18)),
    ]


def test_a_slot_pushed_past_midnight_by_a_gap_belongs_to_its_own_day() -> None:
    apia = ZoneInfo("Pacific/Apia")
    gap_end = utc(2011, 12, 30, 10)  # 2011-12-31 00:00 local: the first day after the gap
    doses = expand(
        Schedule(times=(T0800,)), apia, gap_end, gap_end + HOUR, start_date=dt.date(2011, 1, 1)
    )
    assert [(d.day, d.at) for d in doses] == [(dt.date(2011, 12, 30), gap_end)]


def test_a_slot_before_a_fold_over_midnight_is_found() -> None:
    """St. John's fell back at 00:01 to 23:01: the window ends on the replayed evening."""
    st_johns = ZoneInfo("America/St_Johns")
    window_end = utc(2006, 10, 29, 3)
    assert window_end.astimezone(st_johns).date() == dt.date(2006, 10, 28)
    doses = expand(
        Schedule(times=(dt.time(0),)),
        st_johns,
        utc(2006, 10, 29, 2),
        window_end,
        start_date=dt.date(2006, 1, 1),
    )
    assert [(d.day, d.at) for d in doses] == [(dt.date(2006, 10, 29), utc(2006, 10, 29, 2, 30))]


def test_every_n_days_is_anchored_on_start_date() -> None:
    schedule = Schedule(times=(T0800,), every_n_days=3)
    doses = expand(
        schedule, KOLKATA, utc(2026, 1, 5), utc(2026, 1, 16), start_date=dt.date(2026, 1, 1)
    )
    assert [d.day.day for d in doses] == [7, 10, 13]


def test_anchoring_far_in_the_past() -> None:
    schedule = Schedule(times=(T0800,), every_n_days=7)
    start = dt.date(2000, 1, 3)
    doses = expand(schedule, LONDON, utc(2099, 1, 1), utc(2099, 2, 1), start_date=start)
    assert len(doses) in (4, 5)
    assert all((d.day - start).days % 7 == 0 for d in doses)


def test_days_of_week() -> None:
    schedule = Schedule(times=(T0800,), days_of_week=("mon", "thu"))
    doses = expand(schedule, NEW_YORK, utc(2026, 6, 1), utc(2026, 6, 15))  # a Monday
    assert [d.day.day for d in doses] == [1, 4, 8, 11]


def test_start_and_end_dates_are_inclusive_local_days() -> None:
    doses = expand(
        TWICE_DAILY,
        LORD_HOWE,
        utc(2026, 5, 1),
        utc(2026, 6, 1),
        start_date=dt.date(2026, 5, 10),
        end_date=dt.date(2026, 5, 12),
    )
    assert [(d.day.day, d.slot) for d in doses] == [
        (day, slot) for day in (10, 11, 12) for slot in (T0800, T2000)
    ]


def test_window_before_start_date_is_empty() -> None:
    assert (
        expand(
            TWICE_DAILY, LONDON, utc(2026, 1, 1), utc(2026, 1, 3), start_date=dt.date(2026, 2, 1)
        )
        == []
    )


def test_window_is_half_open() -> None:
    dose = utc(2026, 6, 1, 7)  # 08:00 BST
    assert [d.at for d in expand(TWICE_DAILY, LONDON, dose, dose + SECOND)] == [dose]
    assert expand(TWICE_DAILY, LONDON, dose - SECOND, dose) == []
    assert expand(TWICE_DAILY, LONDON, dose, dose) == []


def test_as_needed_has_no_scheduled_doses() -> None:
    prn = Schedule(as_needed=True, max_doses_per_day=4)
    assert expand(prn, LONDON, utc(2026, 1, 1), utc(2026, 2, 1)) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (dt.datetime(2026, 1, 1), utc(2026, 1, 2)),
        (utc(2026, 1, 1), dt.datetime(2026, 1, 2)),
        (utc(2026, 1, 2), utc(2026, 1, 1)),
    ],
)
def test_bad_windows_are_refused(start: dt.datetime, end: dt.datetime) -> None:
    with pytest.raises(ValueError, match="window"):
        expand(TWICE_DAILY, LONDON, start, end)


# Properties ---------------------------------------------------------------

MINUTE = dt.timedelta(minutes=1)
any_slot = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 1, 15, 29, 30, 45, 59]))


def slots_around(zone: ZoneInfo, change: dt.datetime) -> st.SearchStrategy[dt.time]:
    """Wall times inside the gap or fold that `change` makes, edges included."""
    low, high = sorted((wall(change - SECOND, zone) + SECOND, wall(change, zone)))
    span = (high - low) // MINUTE
    return st.integers(0, span).map(lambda m: (low + m * MINUTE).time())


@st.composite
def schedules(draw: st.DrawFn, special: st.SearchStrategy[dt.time]) -> Schedule:
    times = tuple(sorted(draw(st.sets(any_slot | special, min_size=1, max_size=5))))
    if draw(st.booleans()):
        return Schedule(times=times, every_n_days=draw(st.integers(1, 4)))
    days = draw(st.sets(st.sampled_from(WEEKDAYS), min_size=1))
    return Schedule(times=times, days_of_week=tuple(sorted(days, key=WEEKDAYS.index)))


other_zones = st.sampled_from(
    [
        UTC,
        dt.timezone(dt.timedelta(hours=-7)),
        dt.timezone(dt.timedelta(hours=5, minutes=45)),
        ZoneInfo("Pacific/Chatham"),
        *ZONES,
    ]
)


@dataclass(frozen=True)
class Case:
    schedule: Schedule
    zone: ZoneInfo
    start_date: dt.date
    end_date: dt.date | None
    window_start: dt.datetime
    window_end: dt.datetime

    def run(
        self, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> list[DoseInstant]:
        return expand(
            self.schedule,
            self.zone,
            self.window_start if start is None else start,
            self.window_end if end is None else end,
            start_date=self.start_date,
            end_date=self.end_date,
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A window of up to three days, mostly covering a 2026 transition of the zone."""
    zone = draw(st.sampled_from(ZONES))
    changes = transitions(zone, 2026)
    if changes:
        anchor = draw(st.sampled_from(changes))
        special = slots_around(zone, anchor)
    else:
        anchor, special = draw(st.sampled_from((utc(2026, 3, 8, 7), utc(2026, 12, 31)))), any_slot
    start = anchor + draw(minutes(-48, 12))
    end = start + draw(minutes(0, 72))
    start_date = start.date() - dt.timedelta(days=draw(st.sampled_from(range(-2, 10))))
    length = draw(st.none() | st.integers(0, 20))
    end_date = None if length is None else start_date + dt.timedelta(days=length)
    return Case(draw(schedules(special)), zone, start_date, end_date, start, end)


def minutes(low_hours: int, high_hours: int) -> st.SearchStrategy[dt.timedelta]:
    """Whole minutes, spread evenly over the hours rather than clustered at zero."""
    return st.builds(
        lambda h, m: dt.timedelta(hours=h, minutes=m),
        st.sampled_from(range(low_hours, high_hours)),
        st.integers(0, 59),
    )


def instants_with_wall_time(zone: ZoneInfo, local: dt.datetime) -> list[dt.datetime]:
    """Every UTC instant whose wall time is `local`, from the offsets used nearby."""
    guess = local.replace(tzinfo=UTC)
    offsets = {(guess + k * HOUR).astimezone(zone).utcoffset() for k in range(-30, 31)}
    candidates = {guess - offset for offset in offsets if offset is not None}
    return sorted(c for c in candidates if wall(c, zone) == local)


def gap_end(zone: ZoneInfo, local: dt.datetime) -> dt.datetime:
    """The transition that jumps over a nonexistent `local`."""
    year = local.year
    [end] = [
        t
        for t in transitions(zone, year - 1) + transitions(zone, year) + transitions(zone, year + 1)
        if wall(t - SECOND, zone) < local < wall(t, zone)
    ]
    return end


def oracle(case: Case) -> dict[tuple[dt.date, dt.time], dt.datetime]:
    """Expected instant of every dose day and slot that falls inside the window."""
    first = max(case.start_date, case.window_start.date() - dt.timedelta(days=4))
    last = case.window_end.date() + dt.timedelta(days=4)
    if case.end_date is not None:
        last = min(last, case.end_date)
    expected = {}
    for n in range((last - first).days + 1):
        day = first + dt.timedelta(days=n)
        if (day - case.start_date).days % case.schedule.every_n_days:
            continue
        dow = case.schedule.days_of_week
        if dow is not None and WEEKDAYS[day.weekday()] not in dow:
            continue
        for slot in case.schedule.times:
            local = dt.datetime.combine(day, slot)
            occurrences = instants_with_wall_time(case.zone, local)
            at = occurrences[0] if occurrences else gap_end(case.zone, local)
            if case.window_start <= at < case.window_end:
                expected[(day, slot)] = at
    return expected


@settings(deadline=None, max_examples=300)
@given(cases())
def test_instants_are_in_window_sorted_unique_and_utc(case: Case) -> None:
    doses = case.run()
    ats = [d.at for d in doses]
    assert all(case.window_start <= at < case.window_end for at in ats)
    assert ats == sorted(ats)
    assert len(set(ats)) == len(ats)
    assert all(d.at.tzinfo is UTC and d.local == d.at.astimezone(case.zone) for d in doses)


@settings(deadline=None, max_examples=300)
@given(cases())
def test_wall_time_is_the_slot_or_the_end_of_its_gap(case: Case) -> None:
    for dose in case.run():
        local = dt.datetime.combine(dose.day, dose.slot)
        occurrences = instants_with_wall_time(case.zone, local)
        event(f"wall time occurs {len(occurrences)} times")
        if occurrences:
            assert dose.local.replace(tzinfo=None) == local
            assert dose.local.fold == 0
        else:
            assert dose.at == gap_end(case.zone, local)
            assert wall(dose.at - SECOND, case.zone) < local < dose.local.replace(tzinfo=None)


@settings(deadline=None, max_examples=300)
@given(cases())
def test_one_instant_per_dose_day_and_slot(case: Case) -> None:
    expected = oracle(case)
    doses = case.run()
    assert all(expected[(d.day, d.slot)] == d.at for d in doses)
    assert {d.at for d in doses} == set(expected.values())


@settings(deadline=None, max_examples=300)
@given(cases(), st.data())
def test_adjacent_windows_add_up_to_the_whole(case: Case, data: st.DataObject) -> None:
    whole = case.run()
    seams = [case.window_start, case.window_end] + [d.at for d in whole]
    span = int((case.window_end - case.window_start).total_seconds())
    seam = data.draw(
        st.sampled_from(seams)
        | st.integers(0, span).map(lambda s: case.window_start + dt.timedelta(seconds=s))
    )
    assert case.run(end=seam) + case.run(start=seam) == whole


@settings(deadline=None, max_examples=300)
@given(cases(), other_zones)
def test_window_representation_does_not_matter(case: Case, other: dt.tzinfo) -> None:
    moved = case.run(case.window_start.astimezone(other), case.window_end.astimezone(other))
    assert moved == case.run()


@st.composite
def transition_days(draw: st.DrawFn) -> Case:
    """A daily schedule with slots in a gap or fold, over the days around it."""
    zone = draw(st.sampled_from((NEW_YORK, LONDON, LORD_HOWE)))
    change = draw(st.sampled_from(transitions(zone, 2026)))
    times = draw(st.sets(slots_around(zone, change) | any_slot, min_size=1, max_size=6))
    start = change - dt.timedelta(days=1)
    return Case(
        Schedule(times=tuple(sorted(times))),
        zone,
        start.date() - dt.timedelta(days=1),
        None,
        start,
        start + dt.timedelta(days=2),
    )


def first_per_instant(
    expected: dict[tuple[dt.date, dt.time], dt.datetime],
) -> list[tuple[dt.date, dt.time, dt.datetime]]:
    """Expected doses by instant, a collision kept as its earliest day and slot."""
    kept: dict[dt.datetime, tuple[dt.date, dt.time, dt.datetime]] = {}
    for (day, slot), at in sorted(expected.items()):
        kept.setdefault(at, (day, slot, at))
    return sorted(kept.values(), key=lambda dose: dose[2])


@settings(deadline=None)
@given(transition_days())
def test_slots_in_gaps_and_folds_match_the_oracle(case: Case) -> None:
    doses = case.run()
    assert [(d.day, d.slot, d.at) for d in doses] == first_per_instant(oracle(case))
