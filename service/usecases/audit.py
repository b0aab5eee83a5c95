"""Writing and reading the audit trail."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from service.db.tables import AuditEvent
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction, AuditOutcome
from service.usecases.access import load_readable_patient
from service.usecases.context import Caller, Clock, jsonable


def record(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    action: AuditAction,
    subtype: str,
    entity_type: str,
    entity_id: object | None = None,
    patient_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
    outcome: AuditOutcome = AuditOutcome.SUCCESS,
    outcome_desc: str | None = None,
    actor_id: uuid.UUID | None = None,
) -> None:
    """Add one audit entry to the caller's transaction (it commits with the change).

    Every column is given, as the ORM would: an absent `before` is JSON null."""
    who = caller.principal
    uow.audit.insert(
        {
            "recorded": now,
            "action": action.value,
            "subtype": subtype,
            "outcome": outcome.value,
            "outcome_desc": outcome_desc[:300] if outcome_desc else None,
            "actor_id": who.user_id if who else actor_id,
            "actor_role": who.role.value if who else caller.agent,
            "entity_type": entity_type,
            "entity_id": str(entity_id) if entity_id is not None else None,
            "patient_id": patient_id,
            "request_id": caller.request_id,
            "source_ip": caller.source_ip,
            "before": jsonable(before) if before is not None else None,
            "after": jsonable(after) if after is not None else None,
        }
    )


def record_read(
    uow: UnitOfWork,
    *,
    caller: Caller,
    clock: Clock,
    subtype: str,
    entity_type: str,
    patient_id: uuid.UUID,
    entity_id: object | None = None,
) -> None:
    """Audit a read of a patient's records and commit it (HIPAA 164.312(b))."""
    record(
        uow,
        caller=caller,
        now=clock(),
        action=AuditAction.READ,
        subtype=subtype,
        entity_type=entity_type,
        entity_id=entity_id,
        patient_id=patient_id,
    )
    uow.commit()


def record_refusal(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID | None,
    description: str,
) -> None:
    """Record, in its own transaction, that an authenticated caller was refused.

    The entry is filed under the patient that was targeted (when there is one) so
    that the care team sees attempts on the record; the caller's own answer stays
    the same 404 as for a patient that does not exist.
    """
    with uow:
        known = patient_id is not None and uow.patients.get(patient_id) is not None
        record(
            uow,
            caller=caller,
            now=clock(),
            action=AuditAction.EXECUTE,
            subtype="access.denied",
            entity_type="Patient" if known else "Request",
            entity_id=patient_id,
            patient_id=patient_id if known else None,
            outcome=AuditOutcome.MINOR_FAILURE,
            outcome_desc=description,
        )
        uow.commit()


def list_patient_audit(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int,
    offset: int,
) -> list[AuditEvent]:
    """The care team reads a patient's audit trail; the read itself is audited."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id, staff_only=True)
        events = uow.audit.list_for_patient(patient_id, limit=limit, offset=offset)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="audit.read",
            entity_type="AuditEvent",
            patient_id=patient_id,
        )
        return events
