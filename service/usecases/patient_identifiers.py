"""The identifiers under which EHRs know a patient (docs/interop.md, "Linking an EHR's
patient"): the link the CDS Hooks service follows to check an order against the
patient's record here. The care team's clinicians and administrators add them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from service.db.tables import PatientIdentifier
from service.db.uow import UnitOfWork
from service.domain.accounts import Role, can_write_clinical
from service.domain.audit import AuditAction
from service.usecases.access import load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden

# An EHR or two, each with a few identifier systems: a bound on the unpaged list.
MAX_IDENTIFIERS = 20


@dataclass(frozen=True, kw_only=True)
class IdentifierView:
    system: str
    value: str
    added_by: uuid.UUID
    added_at: dt.datetime


def _view(row: PatientIdentifier) -> IdentifierView:
    return IdentifierView(
        system=row.system, value=row.value, added_by=row.added_by, added_at=row.added_at
    )


def list_identifiers(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, patient_id: uuid.UUID
) -> list[IdentifierView]:
    """The patient's EHR identifiers, for whoever may see the patient record."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        rows = [_view(r) for r in uow.interop.identifiers(patient_id)]
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="identifier.read",
            entity_type="Patient",
            entity_id=patient_id,
            patient_id=patient_id,
        )
        return rows


def add_identifier(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    system: str,
    value: str,
) -> list[IdentifierView]:
    """Link the patient to an EHR's identifier. A value of a system names one patient:
    linking it to a second would show one patient's orders against another's record."""
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        who = caller.require()
        if who.role is not Role.ADMIN and not can_write_clinical(who, care_team=ctx.care_team):
            raise Forbidden(
                "Only a clinician on the care team or an administrator links identifiers.",
                patient_id=patient_id,
            )
        uow.patients.lock(patient_id)
        existing = uow.interop.identifier(system, value)
        if existing is not None and existing.patient_id != patient_id:
            raise Conflict(
                "This identifier is already linked to another patient.",
                errors={"value": ["Already linked to another patient."]},
            )
        if existing is None and len(uow.interop.identifiers(patient_id)) >= MAX_IDENTIFIERS:
            raise Conflict(f"The patient already has {MAX_IDENTIFIERS} identifiers, the most kept.")
        if existing is None:
            now = clock()
            uow.interop.add_identifier(
                PatientIdentifier(
                    patient_id=patient_id,
                    system=system,
                    value=value,
                    added_by=who.user_id,
                    added_at=now,
                )
            )
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.CREATE,
                subtype="identifier.add",
                entity_type="Patient",
                entity_id=patient_id,
                patient_id=patient_id,
                after={"system": system, "value": value},
            )
        rows = [_view(r) for r in uow.interop.identifiers(patient_id)]
        uow.commit()
        return rows
