"""Prescriptions: entered by the care team, read by the patient, versioned on change."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.db.tables import Prescription, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.errors import TransitionError
from service.domain.prescriptions import (
    Action,
    Dose,
    PrescriptionTerms,
    Schedule,
    Status,
    revise,
    transition,
    validate_terms,
)
from service.usecases.access import load_readable_patient, load_writable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, NotFound, ValidationFailed, domain_rules


@dataclass(frozen=True, kw_only=True)
class PrescriptionRecord:
    """One version of a prescription as clients see it."""

    id: uuid.UUID
    patient_id: uuid.UUID
    version: int
    status: str
    drug: str
    dose: Dose
    route: str
    schedule: Schedule
    start_date: dt.date
    end_date: dt.date | None
    instructions: str | None
    change: str
    reason: str | None
    created_by: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime


def _plain(amount: Decimal) -> Decimal:
    """10.0000 -> 10 and 2.5000 -> 2.5, without exponent notation."""
    n = amount.normalize()
    return n.quantize(Decimal(1)) if n.as_tuple().exponent > 0 else n  # type: ignore[operator]


def _terms(v: PrescriptionVersion) -> PrescriptionTerms:
    return PrescriptionTerms(
        drug=v.drug,
        dose=Dose(amount=_plain(Decimal(v.dose_amount)), unit=v.dose_unit),
        route=v.route,
        schedule=Schedule.from_json(v.schedule),
        start_date=v.start_date,
        end_date=v.end_date,
        instructions=v.instructions,
    )


def _record(rx: Prescription, v: PrescriptionVersion) -> PrescriptionRecord:
    t = _terms(v)
    return PrescriptionRecord(
        id=rx.id,
        patient_id=rx.patient_id,
        version=v.version,
        status=v.status,
        drug=t.drug,
        dose=t.dose,
        route=t.route,
        schedule=t.schedule,
        start_date=t.start_date,
        end_date=t.end_date,
        instructions=t.instructions,
        change=v.change,
        reason=v.reason,
        created_by=v.created_by,
        created_at=rx.created_at,
        updated_at=v.created_at,
    )


def _version_row(
    *,
    rx_id: uuid.UUID,
    number: int,
    terms: PrescriptionTerms,
    status: Status,
    change: str,
    reason: str | None,
    by: uuid.UUID,
    now: dt.datetime,
) -> PrescriptionVersion:
    return PrescriptionVersion(
        prescription_id=rx_id,
        version=number,
        drug=terms.drug,
        dose_amount=terms.dose.amount,
        dose_unit=terms.dose.unit,
        route=terms.route,
        schedule=terms.schedule.to_json(),
        start_date=terms.start_date,
        end_date=terms.end_date,
        instructions=terms.instructions,
        status=status.value,
        change=change,
        reason=reason,
        created_by=by,
        created_at=now,
    )


def create_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    terms: PrescriptionTerms,
) -> PrescriptionRecord:
    now = clock()
    with domain_rules("The prescription is not valid."):
        terms = validate_terms(terms)
    with uow:
        load_writable_patient(uow, caller=caller, patient_id=patient_id)
        by = caller.require().user_id
        rx = Prescription(
            patient_id=patient_id,
            status=Status.ACTIVE.value,
            current_version=1,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        version = _version_row(
            rx_id=rx.id,
            number=1,
            terms=terms,
            status=Status.ACTIVE,
            change="create",
            reason=None,
            by=by,
            now=now,
        )
        uow.prescriptions.add(rx, version)
        rec = _record(rx, version)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype="prescription.create",
            entity_type="Prescription",
            entity_id=rx.id,
            patient_id=patient_id,
            after=rec,
        )
        uow.commit()
        return rec


def list_prescriptions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    status: Status | None,
    limit: int,
    offset: int,
) -> list[PrescriptionRecord]:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rows = uow.prescriptions.list_current(
            patient_id=patient_id,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.list",
            entity_type="Prescription",
            patient_id=patient_id,
        )
        return [_record(rx, v) for rx, v in rows]


def _load(
    uow: UnitOfWork, patient_id: uuid.UUID, rx_id: uuid.UUID, *, lock: bool = False
) -> Prescription:
    rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=lock)
    if rx is None:
        raise NotFound(f"No prescription {rx_id} for this patient.")
    return rx


def get_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
) -> PrescriptionRecord:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rx = _load(uow, patient_id, rx_id)
        rec = _record(rx, uow.prescriptions.version(rx.id, rx.current_version))
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.read",
            entity_type="Prescription",
            patient_id=patient_id,
            entity_id=rx_id,
        )
        return rec


def list_versions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
) -> list[PrescriptionRecord]:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rx = _load(uow, patient_id, rx_id)
        records = [_record(rx, v) for v in uow.prescriptions.versions(rx.id)]
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.versions",
            entity_type="Prescription",
            patient_id=patient_id,
            entity_id=rx_id,
        )
        return records


def _append_version(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    current: PrescriptionVersion,
    terms: PrescriptionTerms,
    status: Status,
    change: str,
    reason: str | None,
) -> PrescriptionRecord:
    before = _record(rx, current)
    rx.current_version += 1
    rx.status = status.value
    rx.updated_at = now
    version = _version_row(
        rx_id=rx.id,
        number=rx.current_version,
        terms=terms,
        status=status,
        change=change,
        reason=reason,
        by=caller.require().user_id,
        now=now,
    )
    uow.prescriptions.add_version(rx, version)
    after = _record(rx, version)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype=f"prescription.{change}",
        entity_type="Prescription",
        entity_id=rx.id,
        patient_id=rx.patient_id,
        before=before,
        after=after,
    )
    return after


def revise_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    changes: Mapping[str, Any],
    reason: str | None,
) -> PrescriptionRecord:
    """A change of terms is stored as the next version; the previous one stays."""
    now = clock()
    with uow:
        load_writable_patient(uow, caller=caller, patient_id=patient_id)
        rx = _load(uow, patient_id, rx_id, lock=True)
        if rx.status == Status.DISCONTINUED.value:
            raise Conflict("A discontinued prescription cannot be changed; prescribe anew.")
        current = uow.prescriptions.version(rx.id, rx.current_version)
        old = _terms(current)
        with domain_rules("The prescription is not valid."):
            new = revise(old, changes)
        if new == old:
            return _record(rx, current)
        rec = _append_version(
            uow,
            caller=caller,
            now=now,
            rx=rx,
            current=current,
            terms=new,
            status=Status(rx.status),
            change="revise",
            reason=reason,
        )
        uow.commit()
        return rec


def change_status(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    action: Action,
    reason: str,
) -> PrescriptionRecord:
    """Pause, resume or discontinue; each is a new version carrying the reason."""
    now = clock()
    if not reason.strip():
        raise ValidationFailed("A reason is required.", errors={"reason": ["Must not be blank."]})
    with uow:
        load_writable_patient(uow, caller=caller, patient_id=patient_id)
        rx = _load(uow, patient_id, rx_id, lock=True)
        try:
            status = transition(Status(rx.status), action)
        except TransitionError as exc:
            raise Conflict(str(exc)) from exc
        current = uow.prescriptions.version(rx.id, rx.current_version)
        rec = _append_version(
            uow,
            caller=caller,
            now=now,
            rx=rx,
            current=current,
            terms=_terms(current),
            status=status,
            change=action.value,
            reason=reason.strip(),
        )
        uow.commit()
        return rec
