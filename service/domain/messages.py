"""Outbox messages: their kinds and the life cycle of one message.

A message is queued (`pending`), claimed by one dispatcher under a lease
(`claimed`), and ends `sent`, `failed` (attempts used up), `expired` (too late
to be useful) or `cancelled` (withdrawn: its dose was logged or its plan
changed before it went out). A claim whose lease runs out returns to `pending`.
"""

from __future__ import annotations

import enum

from service.domain.errors import TransitionError


class MessageStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class MessageKind(enum.StrEnum):
    """What a message is about; the app and the console group by it."""

    REMINDER = "dose-reminder"
    FOLLOW_UP = "dose-follow-up"
    SNOOZE = "dose-snooze"
    CARE_TEAM = "missed-dose-care-team"
    TAPER_STEP = "taper-step"
    # To the patient: a clinician changed their running taper, and what happens next.
    TAPER_CHANGED = "taper-changed"
    TAPER_SYMPTOMS = "taper-symptoms-care-team"
    # To the care team at once: a red-flag withdrawal symptom, whatever the total.
    TAPER_RED_FLAG = "taper-red-flag-care-team"
    REGIMEN_FINDING = "regimen-finding-care-team"
    # To a device's owner: another account tried to register it.
    DEVICE_TAKEN = "device-taken"
    # A formulation's supply lasts fewer days than the refill threshold: to the
    # patient and, for a withdrawal-risk drug, the care team (docs/clinical.md,
    # "Supply and refills").
    REFILL_DUE = "refill-due"
    REFILL_DUE_CARE_TEAM = "refill-due-care-team"


# Messages about one dose to its patient: written when they are sent, from the dose
# as it then stands, and withdrawn once the dose is no longer open.
DOSE_KINDS: tuple[MessageKind, ...] = (
    MessageKind.REMINDER,
    MessageKind.FOLLOW_UP,
    MessageKind.SNOOZE,
)

# Messages to the patient's care team (clinicians' devices), not to the patient.
CARE_TEAM_KINDS: tuple[MessageKind, ...] = (
    MessageKind.CARE_TEAM,
    MessageKind.TAPER_SYMPTOMS,
    MessageKind.TAPER_RED_FLAG,
    MessageKind.REGIMEN_FINDING,
    MessageKind.REFILL_DUE_CARE_TEAM,
)

# Rows a dispatcher may still act on (the partial index covers them).
IN_FLIGHT: tuple[MessageStatus, ...] = (MessageStatus.PENDING, MessageStatus.CLAIMED)
FINAL: tuple[MessageStatus, ...] = (
    MessageStatus.SENT,
    MessageStatus.FAILED,
    MessageStatus.EXPIRED,
    MessageStatus.CANCELLED,
)

_ALLOWED: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.PENDING: frozenset(
        {MessageStatus.CLAIMED, MessageStatus.CANCELLED, MessageStatus.EXPIRED}
    ),
    MessageStatus.CLAIMED: frozenset(
        {
            MessageStatus.PENDING,
            MessageStatus.SENT,
            MessageStatus.FAILED,
            MessageStatus.EXPIRED,
            MessageStatus.CANCELLED,
        }
    ),
}


def message_transition(status: str, to: MessageStatus) -> MessageStatus:
    """`to` if a message in `status` may move there; a final status is final."""
    if to not in _ALLOWED.get(MessageStatus(status), frozenset()):
        raise TransitionError(f"A {status} message cannot become {to.value}.")
    return to
