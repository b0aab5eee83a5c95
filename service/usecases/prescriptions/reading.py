"""Reading prescriptions: the current versions, one prescription, or its history;
every read is audited. Each carries the id of its taper plan in progress, if it has
one, read for a whole page in one query."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from typing import Protocol

from service.domain.pages import Page
from service.domain.prescriptions import Status
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import NotFound
from service.usecases.ports import PatientAccess, PrescriptionReading
from service.usecases.prescriptions.versions import load_prescription, record_of
from service.usecases.prescriptions.views import (
    PrescriptionRecord,
    prescription_record,
    shown_to,
)


class _Owners(Protocol):
    def patient_of(self, rx_id: uuid.UUID) -> uuid.UUID | None: ...


class PrescriptionLocating(PatientAccess, Protocol):
    """Enough to find whose a prescription is, then check the caller may read them."""

    @property
    def prescriptions(self) -> _Owners: ...


def _plan_ids(
    uow: PrescriptionReading, rx_ids: Collection[uuid.UUID]
) -> Mapping[uuid.UUID, uuid.UUID]:
    """The taper plan in progress of each of these prescriptions that has one."""
    return uow.tapers.open_plan_ids(rx_ids)


def list_prescriptions(
    *,
    uow: PrescriptionReading,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    status: Status | None,
    limit: int,
    offset: int,
) -> Page[PrescriptionRecord]:
    with uow:
        locale = load_readable_patient(uow, caller=caller, patient_id=patient_id).patient.locale
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
        ids = [rx.id for rx, _ in rows]
        findings, plans = uow.prescriptions.findings(ids), _plan_ids(uow, ids)
        return rows.map(
            lambda row: shown_to(
                caller.require(),
                prescription_record(
                    row[0], row[1], findings[row[0].id], taper_plan_id=plans.get(row[0].id)
                ),
                locale=locale,
            )
        )


def get_prescription(
    *,
    uow: PrescriptionReading,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
) -> PrescriptionRecord:
    with uow:
        locale = load_readable_patient(uow, caller=caller, patient_id=patient_id).patient.locale
        rx = load_prescription(uow, patient_id, rx_id)
        rec = record_of(uow, rx, uow.prescriptions.version(rx.id, rx.current_version))
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.read",
            entity_type="Prescription",
            patient_id=patient_id,
            entity_id=rx_id,
        )
        return shown_to(caller.require(), rec, locale=locale)


def list_versions(
    *,
    uow: PrescriptionReading,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    limit: int | None = None,
    offset: int = 0,
) -> Page[PrescriptionRecord]:
    """The prescription's versions, oldest first, a page at a time."""
    with uow:
        locale = load_readable_patient(uow, caller=caller, patient_id=patient_id).patient.locale
        rx = load_prescription(uow, patient_id, rx_id)
        findings = uow.prescriptions.findings([rx.id])[rx.id]
        plan_id = _plan_ids(uow, [rx.id]).get(rx.id)
        versions = uow.prescriptions.versions(rx.id, limit=limit, offset=offset)
        records = versions.map(
            lambda v: shown_to(
                caller.require(),
                prescription_record(rx, v, findings, taper_plan_id=plan_id),
                locale=locale,
            )
        )
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


def patient_of_prescription(
    *, uow: PrescriptionLocating, caller: Caller, rx_id: uuid.UUID
) -> uuid.UUID:
    """The patient whose prescription `rx_id` is, for a caller who may read that
    patient's prescriptions: for addresses that name a prescription alone (FHIR's
    MedicationRequest/<id>). Anyone else gets NotFound, as for a prescription that
    does not exist, carrying the patient for the audit of the refusal; the read
    itself is audited by the use case that reads the prescription next."""
    with uow:
        patient_id = uow.prescriptions.patient_of(rx_id)
        if patient_id is None:
            raise NotFound(f"No prescription {rx_id}.")
        try:
            load_readable_patient(uow, caller=caller, patient_id=patient_id)
        except NotFound:
            raise NotFound(f"No prescription {rx_id}.", patient_id=patient_id) from None
        return patient_id
