"""A dose as the app sees it, and what listing and logging doses share."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from service.db.doses import DoseRow
from service.db.tables import DoseEvent
from service.domain.accounts import Principal, Role
from service.domain.doses import OPEN, DoseStatus
from service.domain.prescriptions import plain_amount
from service.usecases.errors import Forbidden
from service.usecases.reminders import ReminderPolicy


class _Instructions(Protocol):
    def instructions(self, rx_id: uuid.UUID) -> str | None: ...


class DoseInstructions(Protocol):
    """What `event_view` needs of a unit of work."""

    @property
    def doses(self) -> _Instructions: ...


# Clocks of phones drift; a taken_at this far ahead of the server is accepted.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True)
class DoseView:
    id: uuid.UUID
    prescription_id: uuid.UUID
    drug: str
    dose_amount: Decimal
    dose_unit: str
    scheduled_at: dt.datetime
    local_time: dt.datetime
    status: str
    prn: bool
    taken_at: dt.datetime | None
    skip_reason: str | None
    snoozed_until: dt.datetime | None
    logged_at: dt.datetime | None
    # The prescription's current instructions ("with food"): carried by the listing's
    # rows, looked up for a dose shown on its own (`event_view`).
    instructions: str | None = None

    @property
    def dose(self) -> dict[str, Any]:
        return {"amount": float(self.dose_amount), "unit": self.dose_unit}


def shown_status(e: DoseEvent | DoseRow, *, now: dt.datetime, policy: ReminderPolicy) -> str:
    """The stored status, with an open dose past the missed mark shown as missed
    even before the follow-up job has recorded it."""
    if e.status in OPEN and e.scheduled_at <= now - policy.missed_after:
        return DoseStatus.MISSED
    return e.status


def dose_view(
    e: DoseEvent | DoseRow,
    *,
    now: dt.datetime,
    policy: ReminderPolicy,
    instructions: str | None = None,
) -> DoseView:
    return DoseView(
        id=e.id,
        prescription_id=e.prescription_id,
        drug=e.drug,
        dose_amount=plain_amount(Decimal(e.dose_amount)),
        dose_unit=e.dose_unit,
        scheduled_at=e.scheduled_at,
        local_time=e.scheduled_at.astimezone(zoneinfo.ZoneInfo(e.timezone)),
        status=shown_status(e, now=now, policy=policy),
        prn=e.prn,
        taken_at=e.taken_at,
        skip_reason=e.skip_reason,
        snoozed_until=e.snoozed_until,
        logged_at=e.logged_at,
        instructions=e.instructions if isinstance(e, DoseRow) else instructions,
    )


def event_view(
    uow: DoseInstructions, e: DoseEvent, *, now: dt.datetime, policy: ReminderPolicy
) -> DoseView:
    """One dose as the app sees it, with its prescription's current instructions."""
    return dose_view(
        e, now=now, policy=policy, instructions=uow.doses.instructions(e.prescription_id)
    )


def snapshot(e: DoseEvent) -> dict[str, Any]:
    """What the audit log keeps of a dose before and after a change."""
    return {
        "status": e.status,
        "taken_at": e.taken_at.isoformat() if e.taken_at else None,
        "skip_reason": e.skip_reason,
        "snoozed_until": e.snoozed_until.isoformat() if e.snoozed_until else None,
    }


def check_may_log(who: Principal, care_team: Collection[uuid.UUID]) -> None:
    """Of those who may read a patient, the patient and their care team log doses:
    not an administrator, nor a clinician outside the team."""
    if who.role is Role.ADMIN or (who.role is Role.CLINICIAN and who.user_id not in care_team):
        raise Forbidden("Only the patient or their care team may log doses.")
