"""Writing and reading the audit trail."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from service.db.tables import AuditEvent
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction, AuditOutcome
from service.domain.pages import Page
from service.usecases.access import load_readable_patient
from service.usecases.context import Caller, Clock, jsonable
from service.usecases.ports import Audited


def storable(text: str) -> str:
    """Text every database stores: NUL (which PostgreSQL refuses in text) and unpaired
    surrogates (which are not UTF-8) written as Python escapes (`\\x00`, `\\udcff`),
    so that what a request carried is kept rather than refused; other text is kept
    as it is."""
    escaped = text.replace("\x00", "\\x00")
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def record(
    uow: Audited,
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
            "outcome_desc": storable(outcome_desc)[:300] if outcome_desc else None,
            "actor_id": who.user_id if who else actor_id,
            "actor_role": who.role.value if who else caller.agent,
            "entity_type": entity_type,
            "entity_id": str(entity_id) if entity_id is not None else None,
            "patient_id": patient_id,
            "request_id": caller.request_id,
            "client_request_id": caller.client_request_id,
            "source_ip": caller.source_ip,
            "before": jsonable(before) if before is not None else None,
            "after": jsonable(after) if after is not None else None,
        }
    )


def record_read(
    uow: Audited,
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


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One entry of the audit trail as the care team reads it."""

    id: int
    recorded: dt.datetime
    action: str
    subtype: str
    outcome: str
    outcome_desc: str | None
    actor_id: uuid.UUID | None
    actor_role: str | None
    entity_type: str
    entity_id: str | None
    patient_id: uuid.UUID | None
    request_id: str | None
    client_request_id: str | None
    source_ip: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def of(cls, row: AuditEvent) -> AuditEntry:
        assert row.id is not None  # read back from the table, so stored
        return cls(
            id=row.id,
            recorded=row.recorded,
            action=row.action,
            subtype=row.subtype,
            outcome=row.outcome,
            outcome_desc=row.outcome_desc,
            actor_id=row.actor_id,
            actor_role=row.actor_role,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            patient_id=row.patient_id,
            request_id=row.request_id,
            client_request_id=row.client_request_id,
            source_ip=row.source_ip,
            before=row.before,
            after=row.after,
        )


@dataclass(frozen=True, kw_only=True)
class RefusalTarget:
    """What a refused request named: a patient, or an object of one's record."""

    patient_ids: tuple[uuid.UUID, ...] = ()
    prescription_id: uuid.UUID | None = None
    dose_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None


def _targeted_patients(uow: UnitOfWork, target: RefusalTarget) -> list[uuid.UUID]:
    """The existing patients whose records the request named, each once."""
    found: list[uuid.UUID | None] = list(target.patient_ids)
    if target.prescription_id is not None:
        found.append(uow.prescriptions.patient_of(target.prescription_id))
    if target.dose_id is not None:
        event = uow.doses.event(target.dose_id)
        found.append(event.patient_id if event else None)
    if target.plan_id is not None:
        plan = uow.tapers.get(target.plan_id)
        found.append(plan.patient_id if plan else None)
    unique = dict.fromkeys(p for p in found if p is not None)
    return [p for p in unique if uow.patients.get(p) is not None]


def record_refusal(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    target: RefusalTarget,
    description: str,
) -> None:
    """Record, in its own transaction, that an authenticated caller was refused.

    The entry is filed under each patient whose record was targeted, directly or
    through a prescription, dose or taper plan, so that the care team sees attempts
    on the record; the caller's own answer stays the same 404 as for an object that
    does not exist. A refusal that names no existing patient is still recorded.
    """
    now = clock()
    with uow:
        patients: list[uuid.UUID | None] = [*_targeted_patients(uow, target)]
        for patient_id in patients or [None]:
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.EXECUTE,
                subtype="access.denied",
                entity_type="Patient" if patient_id else "Request",
                entity_id=patient_id or next(iter(target.patient_ids), None),
                patient_id=patient_id,
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
    newest_first: bool = False,
) -> Page[AuditEntry]:
    """The care team reads a patient's audit trail (oldest first, or newest first);
    the read itself is audited."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id, staff_only=True)
        rows = uow.audit.list_for_patient(
            patient_id, limit=limit, offset=offset, newest_first=newest_first
        )
        entries = rows.map(AuditEntry.of)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="audit.read",
            entity_type="AuditEvent",
            patient_id=patient_id,
        )
        return entries
