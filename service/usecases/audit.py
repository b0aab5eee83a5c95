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
    actor_id: uuid.UUID | None = None,
) -> None:
    """Add one audit entry to the caller's transaction (it commits with the change)."""
    who = caller.principal
    uow.audit.add(
        AuditEvent(
            recorded=now,
            action=action.value,
            subtype=subtype,
            outcome=outcome.value,
            actor_id=who.user_id if who else actor_id,
            actor_role=who.role.value if who else caller.agent,
            entity_type=entity_type,
            entity_id=str(entity_id) if entity_id is not None else None,
            patient_id=patient_id,
            request_id=caller.request_id,
            source_ip=caller.source_ip,
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )


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
        record(
            uow,
            caller=caller,
            now=clock(),
            action=AuditAction.READ,
            subtype="audit.read",
            entity_type="AuditEvent",
            patient_id=patient_id,
        )
        uow.commit()
        return events
