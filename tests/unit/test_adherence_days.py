"""A day of a prescription's doses as the chart colours it, and a listed dose's
outcome (on time, early or late) with the adherence use case's on-time window."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from service.domain.schedule import DoseOutcome
from service.usecases.adherence_days import DayKind, day_kind, dose_outcome
from service.usecases.dose_views import DoseView
from service.usecases.reminders import ReminderPolicy

AT = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("outcomes", "kind"),
    [
        ([], DayKind.NONE),
        ([DoseOutcome.ON_TIME, DoseOutcome.ON_TIME], DayKind.ON_TIME),
        ([DoseOutcome.ON_TIME, DoseOutcome.LATE], DayKind.LATE),
        ([DoseOutcome.LATE, DoseOutcome.PENDING], DayKind.LATE),
        ([DoseOutcome.ON_TIME, DoseOutcome.EARLY], DayKind.LATE),
        ([DoseOutcome.EARLY, DoseOutcome.PENDING], DayKind.LATE),
        ([DoseOutcome.EARLY, DoseOutcome.MISSED], DayKind.MISSED),
        ([DoseOutcome.ON_TIME, DoseOutcome.PENDING], DayKind.PENDING),
        ([DoseOutcome.LATE, DoseOutcome.SKIPPED], DayKind.MISSED),
        ([DoseOutcome.ON_TIME, DoseOutcome.MISSED, DoseOutcome.PENDING], DayKind.MISSED),
    ],
)
def test_a_missed_or_skipped_dose_outweighs_a_late_one(
    outcomes: list[DoseOutcome], kind: DayKind
) -> None:
    assert day_kind(outcomes) is kind


def dose(status: str, taken_at: dt.datetime | None = None) -> DoseView:
    return DoseView(
        id=uuid.uuid4(),
        prescription_id=uuid.uuid4(),
        drug="escitalopram",
        dose_amount=Decimal(10),
        dose_unit="mg",
        scheduled_at=AT,
        local_time=AT,
        status=status,
        prn=False,
        taken_at=taken_at,
        skip_reason=None,
        snoozed_until=None,
        logged_at=None,
    )


def test_early_and_late_are_outside_the_policys_on_time_window_before_and_after() -> None:
    policy = ReminderPolicy(on_time=dt.timedelta(minutes=60))
    hour = dt.timedelta(hours=1)
    assert dose_outcome(dose("taken", AT + hour), policy=policy) is DoseOutcome.ON_TIME
    assert (
        dose_outcome(dose("taken", AT + hour + dt.timedelta(seconds=1)), policy=policy)
        is DoseOutcome.LATE
    )
    assert dose_outcome(dose("taken", AT - hour), policy=policy) is DoseOutcome.ON_TIME
    assert (
        dose_outcome(dose("taken", AT - hour - dt.timedelta(seconds=1)), policy=policy)
        is DoseOutcome.EARLY
    )
    assert dose_outcome(dose("taken", AT - 7 * hour), policy=policy) is DoseOutcome.EARLY
    wider = ReminderPolicy(on_time=dt.timedelta(hours=3))
    assert dose_outcome(dose("taken", AT - 2 * hour), policy=wider) is DoseOutcome.ON_TIME


def test_open_and_closed_doses_keep_their_outcome_and_cancelled_ones_have_none() -> None:
    policy = ReminderPolicy()
    assert dose_outcome(dose("pending"), policy=policy) is DoseOutcome.PENDING
    assert dose_outcome(dose("reminded"), policy=policy) is DoseOutcome.PENDING
    assert dose_outcome(dose("skipped"), policy=policy) is DoseOutcome.SKIPPED
    assert dose_outcome(dose("missed"), policy=policy) is DoseOutcome.MISSED
    assert dose_outcome(dose("cancelled"), policy=policy) is None
