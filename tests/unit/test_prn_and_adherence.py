"""As-needed (PRN) limits over rolling days, and adherence classification."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.schedule import (
    ROLLING_DAY,
    Adherence,
    DoseOutcome,
    classify,
    next_prn_allowed,
    summarize,
)

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
QUARTER = dt.timedelta(minutes=15)
BASE = dt.datetime(2026, 3, 7, tzinfo=UTC)


def h(hours: float) -> dt.datetime:
    """An instant `hours` after midnight UTC on 2026-03-07."""
    return BASE + dt.timedelta(hours=hours)


def check(
    previous: list[dt.datetime],
    at: dt.datetime,
    max_doses: int = 4,
    interval: str | None = None,
) -> dt.datetime | None:
    return next_prn_allowed(
        previous,
        at=at,
        max_doses_per_day=max_doses,
        min_hours_between=None if interval is None else Decimal(interval),
    )


def test_first_dose_is_allowed() -> None:
    assert check([], h(3), max_doses=1, interval="8") is None


def test_maximum_per_rolling_day() -> None:
    taken = [h(0), h(6), h(12), h(18)]
    assert check(taken, h(20)) == h(24)
    assert check(taken, h(24)) is None


def test_calendar_midnight_does_not_reset_the_count() -> None:
    """Four doses late one evening and four early the next morning would be eight in hours."""
    taken = [h(20), h(21), h(22), h(23)]
    assert check(taken, h(25)) == h(44)


def test_minimum_interval() -> None:
    assert check([h(10)], h(12), interval="4") == h(14)
    assert check([h(10)], h(14), interval="4") is None
    assert check([h(10)], h(11), interval="1.5") == h(11.5)


def test_both_limits_give_the_later_instant() -> None:
    taken = [h(0), h(4), h(8), h(12)]
    assert check(taken, h(13), interval="6") == h(24)
    assert check(taken[:3], h(9), interval="6") == h(14)


def test_later_logged_doses_count() -> None:
    """A late entry for 10:00 next to a recorded 12:00 dose breaks the interval too."""
    assert check([h(12)], h(10), interval="4") == h(16)
    later_that_day = [h(14), h(16), h(18), h(20)]
    assert check(later_that_day, h(0)) == h(38)


def test_answer_is_utc_whatever_the_input_zone() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    allowed = check([h(10).astimezone(paris)], h(12).astimezone(paris), interval="4")
    assert allowed == h(14)
    assert allowed is not None
    assert allowed.tzinfo is UTC


def test_fractional_hours_round_up_to_the_microsecond() -> None:
    allowed = check([h(0)], h(0), interval="0.0000000001")
    assert allowed == h(0) + dt.timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("previous", "at", "max_doses"),
    [
        ([], dt.datetime(2026, 3, 7, 12), 4),
        ([dt.datetime(2026, 3, 7, 8)], h(12), 4),
        ([], h(12), 0),
    ],
)
def test_bad_prn_input_is_refused(
    previous: list[dt.datetime], at: dt.datetime, max_doses: int
) -> None:
    with pytest.raises(ValueError, match=r"aware|max_doses_per_day"):
        check(previous, at, max_doses)


def allowed_by_definition(
    taken: list[dt.datetime], at: dt.datetime, max_doses: int, interval: dt.timedelta
) -> bool:
    """Adding `at` leaves no rolling day that contains it over the maximum, and no
    dose closer to it than the interval."""
    doses = [*taken, at]
    for end in doses:
        in_day = [d for d in doses if end - ROLLING_DAY < d <= end]
        if at in in_day and len(in_day) > max_doses:
            return False
    return all(abs(at - other) >= interval for other in taken)


quarter_hours = st.integers(0, 4 * 24 * 4).map(lambda q: BASE + q * QUARTER)


@settings(deadline=None)
@given(
    st.lists(quarter_hours, max_size=8),
    quarter_hours,
    st.integers(1, 5),
    st.none() | st.integers(1, 4 * 30).map(lambda q: Decimal(q) / 4),
)
def test_next_allowed_is_the_earliest_allowed_instant(
    taken: list[dt.datetime], at: dt.datetime, max_doses: int, hours: Decimal | None
) -> None:
    interval = dt.timedelta(hours=float(hours or 0))
    allowed = next_prn_allowed(taken, at=at, max_doses_per_day=max_doses, min_hours_between=hours)
    if allowed is None:
        assert allowed_by_definition(taken, at, max_doses, interval)
        return
    assert allowed > at
    assert allowed_by_definition(taken, allowed, max_doses, interval)
    again = next_prn_allowed(
        taken, at=allowed, max_doses_per_day=max_doses, min_hours_between=hours
    )
    assert again is None
    # Every limit ends on a quarter hour here, so checking quarter hours is exhaustive.
    earlier = at
    while earlier < allowed:
        assert not allowed_by_definition(taken, earlier, max_doses, interval)
        earlier += QUARTER


# Adherence ----------------------------------------------------------------

SCHEDULED = dt.datetime(2026, 3, 8, 12, tzinfo=UTC)
WINDOW = dt.timedelta(minutes=60)


@pytest.mark.parametrize(
    ("status", "taken_at", "outcome"),
    [
        ("pending", None, DoseOutcome.PENDING),
        ("reminded", None, DoseOutcome.PENDING),
        ("skipped", None, DoseOutcome.SKIPPED),
        ("missed", None, DoseOutcome.MISSED),
        ("taken", SCHEDULED, DoseOutcome.ON_TIME),
        ("taken", SCHEDULED + WINDOW, DoseOutcome.ON_TIME),
        ("taken", SCHEDULED - WINDOW, DoseOutcome.ON_TIME),
        ("taken", SCHEDULED + WINDOW + dt.timedelta(seconds=1), DoseOutcome.LATE),
        ("taken", SCHEDULED - WINDOW - dt.timedelta(seconds=1), DoseOutcome.EARLY),
        ("taken", SCHEDULED - 3 * HOUR, DoseOutcome.EARLY),
        ("taken", SCHEDULED - 7 * HOUR, DoseOutcome.EARLY),
        ("taken", SCHEDULED + 7 * HOUR, DoseOutcome.LATE),
        # Same instant, other offset: a New York patient taking it at 08:00 EDT.
        ("taken", SCHEDULED.astimezone(dt.timezone(-4 * HOUR)), DoseOutcome.ON_TIME),
    ],
)
def test_classify(status: str, taken_at: dt.datetime | None, outcome: DoseOutcome) -> None:
    result = classify(
        scheduled_at=SCHEDULED, status=status, taken_at=taken_at, on_time_window=WINDOW
    )
    assert result is outcome


@pytest.mark.parametrize(
    ("status", "taken_at", "window"),
    [
        ("taken", None, WINDOW),
        ("lost", None, WINDOW),
        ("taken", dt.datetime(2026, 3, 8, 12), WINDOW),
        ("taken", SCHEDULED, -WINDOW),
    ],
)
def test_classify_refuses_bad_input(
    status: str, taken_at: dt.datetime | None, window: dt.timedelta
) -> None:
    with pytest.raises(ValueError, match=r"taken_at|status|window"):
        classify(scheduled_at=SCHEDULED, status=status, taken_at=taken_at, on_time_window=window)


def test_summarize_counts_and_percentage() -> None:
    outcomes = [DoseOutcome.ON_TIME] * 2 + [DoseOutcome.LATE, DoseOutcome.SKIPPED]
    adherence = summarize([*outcomes, DoseOutcome.PENDING, DoseOutcome.PENDING])
    assert adherence == Adherence(on_time=2, late=1, skipped=1, missed=0, pending=2)
    assert adherence.percentage == Decimal("75.0")
    assert adherence.on_time_percentage == Decimal("50.0")


def test_early_doses_are_taken_but_not_on_time() -> None:
    adherence = summarize([DoseOutcome.EARLY, DoseOutcome.LATE, DoseOutcome.MISSED])
    assert (adherence.early, adherence.late, adherence.taken, adherence.due) == (1, 1, 2, 3)
    assert adherence.percentage == Decimal("66.7")
    assert adherence.on_time_percentage == Decimal("0.0")


@pytest.mark.parametrize(
    ("taken", "not_taken", "percentage"),
    [
        (2, 1, "66.7"),
        (1, 2, "33.3"),
        (1, 15, "6.3"),  # 6.25 rounds half up
        (0, 3, "0.0"),
        (7, 0, "100.0"),
    ],
)
def test_percentage_rounds_to_one_place(taken: int, not_taken: int, percentage: str) -> None:
    adherence = Adherence(on_time=taken, missed=not_taken)
    assert adherence.percentage == Decimal(percentage)
    assert str(adherence.percentage) == percentage


def test_no_settled_dose_means_no_percentage() -> None:
    assert summarize([]).percentage is None
    assert summarize([DoseOutcome.PENDING]).percentage is None


@given(st.lists(st.sampled_from(DoseOutcome)))
def test_percentage_matches_exact_arithmetic(outcomes: list[DoseOutcome]) -> None:
    adherence = summarize(outcomes)
    taken = adherence.on_time + adherence.early + adherence.late
    settled = taken + adherence.skipped + adherence.missed
    assert (adherence.taken, adherence.due) == (taken, settled)
    assert settled + adherence.pending == len(outcomes)
    if settled == 0:
        assert adherence.percentage is None
        return
    exact = Fraction(100 * taken, settled)
    expected = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    assert adherence.percentage == expected
    assert Decimal(0) <= expected <= Decimal(100)
