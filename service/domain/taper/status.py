"""A taper plan's life cycle: its statuses, the changes a clinician or the
scheduler makes to it, and from which statuses each change is allowed.

A plan is drafted, approved by a clinician, becomes active when its first step
starts, may be paused and resumed, and ends completed or cancelled. Every change
is stored as a new plan version; `check_change` is the one place that decides
whether a change is allowed from the plan's current status.
"""

from __future__ import annotations

import enum

from service.domain.errors import TransitionError


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PlanChange(enum.StrEnum):
    """What a plan version records as the change that made it."""

    CREATE = "create"
    APPROVE = "approve"
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    STEP_BACK = "step-back"
    CANCEL = "cancel"
    # A draft replaced by a newer draft of the same prescription: it ends cancelled,
    # its reason naming the plan that replaced it.
    SUPERSEDE = "supersede"
    # The plan's own versions the scheduler writes: its first step has started, a
    # step started late (the steps after it move by as much), its last step started.
    START = "start"
    DELAY = "delay"
    FINISH = "complete"


# A patient's prescription has at most one plan in these statuses.
OPEN: tuple[PlanStatus, ...] = (
    PlanStatus.DRAFT,
    PlanStatus.APPROVED,
    PlanStatus.ACTIVE,
    PlanStatus.PAUSED,
)
# The plan's dates govern the prescription's doses (the schedule follows it).
UNDER_WAY: tuple[PlanStatus, ...] = (PlanStatus.APPROVED, PlanStatus.ACTIVE, PlanStatus.PAUSED)
# The scheduler starts steps of plans in these statuses.
RUNNING: tuple[PlanStatus, ...] = (PlanStatus.APPROVED, PlanStatus.ACTIVE)
FINAL: tuple[PlanStatus, ...] = (PlanStatus.COMPLETED, PlanStatus.CANCELLED)

_ALLOWED_FROM: dict[PlanChange, tuple[PlanStatus, ...]] = {
    PlanChange.APPROVE: (PlanStatus.DRAFT,),
    PlanChange.PAUSE: RUNNING,
    PlanChange.RESUME: (PlanStatus.PAUSED,),
    PlanChange.EXTEND: OPEN,
    PlanChange.STEP_BACK: (PlanStatus.ACTIVE, PlanStatus.PAUSED),
    PlanChange.CANCEL: OPEN,
    PlanChange.SUPERSEDE: (PlanStatus.DRAFT,),
    PlanChange.START: (PlanStatus.APPROVED,),
    PlanChange.DELAY: RUNNING,
    PlanChange.FINISH: RUNNING,
}
# The changes a clinician makes (the others are the scheduler's); a hold proposed
# by a symptom report stands until the next of these.
CLINICIAN_CHANGES: tuple[PlanChange, ...] = (
    PlanChange.CREATE,
    PlanChange.APPROVE,
    PlanChange.PAUSE,
    PlanChange.RESUME,
    PlanChange.EXTEND,
    PlanChange.STEP_BACK,
    PlanChange.CANCEL,
    PlanChange.SUPERSEDE,
)


def allowed_from(change: PlanChange) -> tuple[PlanStatus, ...]:
    """The statuses from which `change` may be made (none for `create`)."""
    return _ALLOWED_FROM.get(change, ())


def check_change(status: str, change: PlanChange) -> PlanStatus:
    """`status` as a PlanStatus if `change` is allowed from it; else TransitionError."""
    current = PlanStatus(status)
    if current not in allowed_from(change):
        raise TransitionError(f"This plan is {current.value}; it cannot take a {change.value}.")
    return current
