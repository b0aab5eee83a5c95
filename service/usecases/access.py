"""Loading a patient on behalf of a caller, with the access rules applied."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from service.db.tables import Patient, User
from service.domain.accounts import (
    Role,
    can_read_patient,
    can_view_patient_record,
    can_write_clinical,
)
from service.usecases.context import Caller
from service.usecases.errors import Forbidden, NotFound
from service.usecases.ports import PatientAccess


@dataclass(frozen=True)
class PatientContext:
    patient: Patient
    user: User
    care_team: list[uuid.UUID]


def _not_found(patient_id: uuid.UUID) -> NotFound:
    return NotFound(f"No patient {patient_id}.", patient_id=patient_id)


def load_readable_patient(
    uow: PatientAccess,
    *,
    caller: Caller,
    patient_id: uuid.UUID,
    staff_only: bool = False,
    record_only: bool = False,
) -> PatientContext:
    """The patient if the caller may read their clinical records; NotFound otherwise.

    Callers who may not read a patient get the same answer as for a patient that
    does not exist, so that identifiers cannot be probed. `record_only` widens
    access to the patient record itself for admins, who manage care teams.
    """
    who = caller.require()
    patient = uow.patients.get(patient_id)
    if patient is None:
        raise _not_found(patient_id)
    care_team = [m.clinician_id for m in uow.patients.care_team(patient_id)]
    check = can_view_patient_record if record_only else can_read_patient
    if not check(who, patient_id=patient_id, care_team=care_team):
        raise _not_found(patient_id)
    if staff_only and who.role is Role.PATIENT:
        raise Forbidden("Only the care team may do this.", patient_id=patient_id)
    user = uow.users.get(patient.user_id)
    assert user is not None
    return PatientContext(patient=patient, user=user, care_team=care_team)


def load_writable_patient(
    uow: PatientAccess, *, caller: Caller, patient_id: uuid.UUID
) -> PatientContext:
    """The patient if the caller is a clinician on the care team."""
    ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
    if not can_write_clinical(caller.require(), care_team=ctx.care_team):
        raise Forbidden(
            "Only a clinician on the patient's care team may change clinical records.",
            patient_id=patient_id,
        )
    return ctx
