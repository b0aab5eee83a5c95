"""A scheduled dose's life cycle.

A dose event is created `pending`, may be `reminded`, and ends `taken`,
`skipped` or `missed` (the follow-up job marks it missed once its window has
passed); a dose that will no longer happen (its prescription stopped, a taper
step replaced it) is `cancelled`. An open dose can be logged or snoozed; a dose
logged or missed can be logged again, which corrects the record (`log_dose`).
"""

from __future__ import annotations

import enum

from service.domain.errors import TransitionError


class DoseStatus(enum.StrEnum):
    PENDING = "pending"
    REMINDED = "reminded"
    TAKEN = "taken"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"


class DoseAction(enum.StrEnum):
    REMIND = "remind"
    TAKE = "take"
    SKIP = "skip"
    MISS = "miss"
    CANCEL = "cancel"
    # Remind again later: the status stays as it is.
    SNOOZE = "snooze"


OPEN: tuple[DoseStatus, ...] = (DoseStatus.PENDING, DoseStatus.REMINDED)
LOGGED: tuple[DoseStatus, ...] = (DoseStatus.TAKEN, DoseStatus.SKIPPED)
# The statuses a patient or a client may ask to list.
LISTED: tuple[DoseStatus, ...] = (
    DoseStatus.PENDING,
    DoseStatus.REMINDED,
    DoseStatus.TAKEN,
    DoseStatus.SKIPPED,
    DoseStatus.MISSED,
)

_TRANSITIONS: dict[tuple[DoseStatus, DoseAction], DoseStatus] = {
    (DoseStatus.PENDING, DoseAction.REMIND): DoseStatus.REMINDED,
    **{(s, DoseAction.TAKE): DoseStatus.TAKEN for s in OPEN},
    **{(s, DoseAction.SKIP): DoseStatus.SKIPPED for s in OPEN},
    **{(s, DoseAction.MISS): DoseStatus.MISSED for s in OPEN},
    **{(s, DoseAction.CANCEL): DoseStatus.CANCELLED for s in OPEN},
    **{(s, DoseAction.SNOOZE): s for s in OPEN},
}
# Why an action is refused, where there is more to say than that it is.
_WHY_NOT: dict[DoseAction, str] = {
    DoseAction.SNOOZE: "only a dose not yet logged can be snoozed",
}

# A dose logged, or recorded missed, may be logged again: the later log corrects
# the earlier one, and the audit log keeps both.
CORRECTABLE: tuple[DoseStatus, ...] = (*LOGGED, DoseStatus.MISSED)
_LOGGED_AS: dict[DoseAction, DoseStatus] = {
    DoseAction.TAKE: DoseStatus.TAKEN,
    DoseAction.SKIP: DoseStatus.SKIPPED,
}


def dose_transition(status: str, action: DoseAction) -> DoseStatus:
    """The status after `action`; a dose that has been logged, missed or cancelled
    stays so."""
    try:
        return _TRANSITIONS[(DoseStatus(status), action)]
    except KeyError:
        why = _WHY_NOT.get(action, "it cannot be changed")
        raise TransitionError(f"This dose is {status}; {why}.") from None


def check_not_withdrawn(status: str) -> None:
    """A cancelled dose will not happen (its prescription changed): nothing can be
    logged, corrected or snoozed on it."""
    if status == DoseStatus.CANCELLED:
        raise TransitionError("This dose was withdrawn when the prescription changed.")


def log_dose(status: str, action: DoseAction) -> tuple[DoseStatus, bool]:
    """The status after the patient or their care team logs a dose taken or skipped,
    and whether that corrects an earlier record (a dose logged or missed)."""
    check_not_withdrawn(status)
    if status in CORRECTABLE and action in _LOGGED_AS:
        return _LOGGED_AS[action], True
    return dose_transition(status, action), False
