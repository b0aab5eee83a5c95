"""A dose's life cycle without a database: which changes each status allows, what
logging a dose again means, and why a change is refused."""

from __future__ import annotations

import pytest

from service.domain.doses import (
    CORRECTABLE,
    LISTED,
    LOGGED,
    OPEN,
    DoseAction,
    DoseStatus,
    check_not_withdrawn,
    dose_transition,
    log_dose,
)
from service.domain.errors import TransitionError

CLOSED = [s for s in DoseStatus if s not in OPEN]
LOGS = [(DoseAction.TAKE, DoseStatus.TAKEN), (DoseAction.SKIP, DoseStatus.SKIPPED)]


def test_statuses_are_stored_as_their_values() -> None:
    assert [s.value for s in DoseStatus] == [
        "pending",
        "reminded",
        "taken",
        "skipped",
        "missed",
        "cancelled",
    ]
    # Equal to the stored text, so usable as it in queries and comparisons.
    assert "pending" in OPEN


def test_every_status_but_cancelled_may_be_listed() -> None:
    assert set(LISTED) == set(DoseStatus) - {DoseStatus.CANCELLED}
    assert set(OPEN) | set(LOGGED) | {DoseStatus.MISSED} == set(LISTED)


def test_only_a_pending_dose_is_reminded() -> None:
    assert dose_transition("pending", DoseAction.REMIND) is DoseStatus.REMINDED
    with pytest.raises(TransitionError, match="This dose is reminded; it cannot be changed"):
        dose_transition("reminded", DoseAction.REMIND)


@pytest.mark.parametrize("status", OPEN)
@pytest.mark.parametrize(
    ("action", "after"),
    [
        (DoseAction.TAKE, DoseStatus.TAKEN),
        (DoseAction.SKIP, DoseStatus.SKIPPED),
        (DoseAction.MISS, DoseStatus.MISSED),
        (DoseAction.CANCEL, DoseStatus.CANCELLED),
    ],
)
def test_an_open_dose_can_be_logged_missed_or_cancelled(
    status: DoseStatus, action: DoseAction, after: DoseStatus
) -> None:
    assert dose_transition(status, action) is after


@pytest.mark.parametrize("status", OPEN)
def test_snoozing_an_open_dose_leaves_its_status(status: DoseStatus) -> None:
    assert dose_transition(status.value, DoseAction.SNOOZE) is status


@pytest.mark.parametrize("status", CLOSED)
@pytest.mark.parametrize("action", list(DoseAction))
def test_a_closed_dose_stays_as_it_is(status: DoseStatus, action: DoseAction) -> None:
    with pytest.raises(TransitionError, match=f"This dose is {status.value}; "):
        dose_transition(status, action)


@pytest.mark.parametrize("status", CLOSED)
def test_a_closed_dose_cannot_be_snoozed_and_the_refusal_says_so(status: DoseStatus) -> None:
    with pytest.raises(TransitionError) as refused:
        dose_transition(status.value, DoseAction.SNOOZE)
    assert str(refused.value) == (
        f"This dose is {status.value}; only a dose not yet logged can be snoozed."
    )


def test_an_unknown_status_is_an_error_not_a_refusal() -> None:
    with pytest.raises(ValueError, match="'lost' is not a valid DoseStatus"):
        dose_transition("lost", DoseAction.TAKE)


@pytest.mark.parametrize("status", OPEN)
@pytest.mark.parametrize(("action", "after"), LOGS)
def test_logging_an_open_dose_is_no_correction(
    status: DoseStatus, action: DoseAction, after: DoseStatus
) -> None:
    assert log_dose(status.value, action) == (after, False)


@pytest.mark.parametrize("status", CORRECTABLE)
@pytest.mark.parametrize(("action", "after"), LOGS)
def test_logging_a_logged_or_missed_dose_again_corrects_it(
    status: DoseStatus, action: DoseAction, after: DoseStatus
) -> None:
    assert log_dose(status.value, action) == (after, True)


@pytest.mark.parametrize("action", [DoseAction.TAKE, DoseAction.SKIP])
def test_a_withdrawn_dose_cannot_be_logged(action: DoseAction) -> None:
    with pytest.raises(TransitionError) as refused:
        log_dose("cancelled", action)
    assert str(refused.value) == "This dose was withdrawn when the prescription changed."


@pytest.mark.parametrize("status", [s for s in DoseStatus if s is not DoseStatus.CANCELLED])
def test_only_a_cancelled_dose_counts_as_withdrawn(status: DoseStatus) -> None:
    check_not_withdrawn(status.value)
    with pytest.raises(TransitionError, match="withdrawn"):
        check_not_withdrawn(DoseStatus.CANCELLED)
