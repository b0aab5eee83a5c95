"""A scheduled dose's life cycle.

A dose event is created `pending`, may be `reminded`, and ends `taken`,
`skipped` or `missed` (the follow-up job marks it missed once its window has
passed); a dose that will no longer happen (its prescription stopped, a taper
step replaced it) is `cancelled`. Only an open dose can be logged.
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
}


def dose_transition(status: str, action: DoseAction) -> DoseStatus:
    """The status after `action`; a dose that has been logged, missed or cancelled
    stays so."""
    try:
        return _TRANSITIONS[(DoseStatus(status), action)]
    except KeyError:
        raise TransitionError(f"This dose is {status}; it cannot be changed.") from None
