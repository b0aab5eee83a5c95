"""An outbox message's life cycle without a database: the kinds, the statuses as
stored, and which moves a dispatcher may make."""

from __future__ import annotations

import itertools

import pytest

from service.domain.errors import TransitionError
from service.domain.messages import (
    DOSE_KINDS,
    FINAL,
    IN_FLIGHT,
    MessageKind,
    MessageStatus,
    message_transition,
)

P, C, S = MessageStatus.PENDING, MessageStatus.CLAIMED, MessageStatus.SENT
F, E, X = MessageStatus.FAILED, MessageStatus.EXPIRED, MessageStatus.CANCELLED
# pending -> claimed, cancelled, expired; claimed -> any other status.
ALLOWED = {(P, C), (P, X), (P, E), (C, P), (C, S), (C, F), (C, E), (C, X)}


def test_statuses_and_kinds_are_stored_as_their_values() -> None:
    assert [s.value for s in MessageStatus] == [
        "pending",
        "claimed",
        "sent",
        "failed",
        "expired",
        "cancelled",
    ]
    assert "dose-reminder" in set(MessageKind)
    assert f"{MessageKind.SNOOZE}:1" == "dose-snooze:1"
    assert {k.value for k in DOSE_KINDS} == {"dose-reminder", "dose-follow-up", "dose-snooze"}


def test_every_status_is_in_flight_or_final_and_not_both() -> None:
    assert set(IN_FLIGHT) | set(FINAL) == set(MessageStatus)
    assert not set(IN_FLIGHT) & set(FINAL)


@pytest.mark.parametrize(("status", "to"), sorted(ALLOWED))
def test_a_dispatcher_may_make_these_moves(status: MessageStatus, to: MessageStatus) -> None:
    assert message_transition(status.value, to) is to


@pytest.mark.parametrize(
    ("status", "to"),
    sorted(set(itertools.product(MessageStatus, MessageStatus)) - ALLOWED),
)
def test_and_no_others(status: MessageStatus, to: MessageStatus) -> None:
    with pytest.raises(TransitionError) as refused:
        message_transition(status, to)
    assert str(refused.value) == f"A {status.value} message cannot become {to.value}."


@pytest.mark.parametrize("status", FINAL)
def test_a_final_status_is_final(status: MessageStatus) -> None:
    for to in MessageStatus:
        with pytest.raises(TransitionError):
            message_transition(status, to)


def test_a_lapsed_claim_returns_to_the_queue() -> None:
    assert message_transition("claimed", MessageStatus.PENDING) is MessageStatus.PENDING
