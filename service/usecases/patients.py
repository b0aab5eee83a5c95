"""Patients: care-team membership managed by administrators, and the door to the rest.

Enrolment lives in `enrolment`, the record itself in `patient_profile`, the views in
`patient_records`; every name is importable from here as before.
"""

from __future__ import annotations

import uuid

from service.domain.accounts import EARLIEST_BIRTH, MAX_ALLERGIES, Role, may_join_care_team
from service.domain.audit import AuditAction
from service.usecases.access import load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.care_team import MAX_CARE_TEAM, add_member
from service.usecases.context import Caller, Clock
from service.usecases.enrolment import (
    accept_invitation,
    create_patient,
    is_invitation_code,
    join_on_activation,
    list_enrolments,
)
from service.usecases.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.usecases.patient_profile import get_patient, list_patients, update_patient
from service.usecases.patient_records import (
    CareTeamEntry,
    EnrolmentRecord,
    PatientRecord,
    care_team_entries,
)
from service.usecases.ports import CareTeamChanges, PatientAccess

__all__ = [
    "EARLIEST_BIRTH",
    "MAX_ALLERGIES",
    "MAX_CARE_TEAM",
    "CareTeamEntry",
    "EnrolmentRecord",
    "PatientRecord",
    "accept_invitation",
    "add_care_team_member",
    "create_patient",
    "get_care_team",
    "get_patient",
    "is_invitation_code",
    "join_on_activation",
    "list_enrolments",
    "list_patients",
    "remove_care_team_member",
    "update_patient",
]


def get_care_team(
    *, uow: PatientAccess, caller: Caller, clock: Clock, patient_id: uuid.UUID
) -> list[CareTeamEntry]:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        team = care_team_entries(uow, patient_id)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="careteam.read",
            entity_type="CareTeam",
            patient_id=patient_id,
        )
        return team


def _require_admin_on(uow: CareTeamChanges, caller: Caller, patient_id: uuid.UUID) -> None:
    load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
    if caller.require().role is not Role.ADMIN:
        raise Forbidden("Only an administrator changes care teams.")
    uow.patients.lock(patient_id)


def add_care_team_member(
    *,
    uow: CareTeamChanges,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    clinician_id: uuid.UUID,
) -> list[CareTeamEntry]:
    now = clock()
    with uow:
        _require_admin_on(uow, caller, patient_id)
        clinician = uow.users.get(clinician_id)
        if clinician is None or not may_join_care_team(
            Role(clinician.role), active=clinician.is_active
        ):
            raise ValidationFailed(
                "No active clinician with this id.",
                errors={"clinician_id": ["Not an active clinician."]},
            )
        members = uow.patients.care_team(patient_id)
        if any(m.clinician_id == clinician_id for m in members):
            raise Conflict("This clinician is already on the care team.")
        if len(members) >= MAX_CARE_TEAM:
            raise Conflict(f"At most {MAX_CARE_TEAM} clinicians on a care team; remove one first.")
        add_member(
            uow,
            caller,
            patient_id=patient_id,
            clinician_id=clinician_id,
            added_by=caller.require().user_id,
            now=now,
        )
        team = care_team_entries(uow, patient_id)
        uow.commit()
        return team


def remove_care_team_member(
    *,
    uow: CareTeamChanges,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    clinician_id: uuid.UUID,
) -> list[CareTeamEntry]:
    """Ends a membership (the row is kept); a patient is never left without a clinician."""
    now = clock()
    with uow:
        _require_admin_on(uow, caller, patient_id)
        members = uow.patients.care_team(patient_id)
        member = next((m for m in members if m.clinician_id == clinician_id), None)
        if member is None:
            raise NotFound("This clinician is not on the care team.")
        member.removed_at = now
        member.removed_by = caller.require().user_id
        # Checked after the write, while this transaction holds the write lock, so
        # that two parallel removals cannot both see a second clinician.
        if not uow.patients.care_team(patient_id):
            raise Conflict("A patient must keep at least one clinician; add another first.")
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.UPDATE,
            subtype="careteam.remove",
            entity_type="CareTeam",
            entity_id=clinician_id,
            patient_id=patient_id,
            before={"clinician_id": clinician_id},
        )
        team = care_team_entries(uow, patient_id)
        uow.commit()
        return team
