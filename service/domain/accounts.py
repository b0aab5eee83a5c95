"""Roles and who may see or change what."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Collection
from dataclasses import dataclass


class Role(enum.StrEnum):
    ADMIN = "admin"
    CLINICIAN = "clinician"
    PATIENT = "patient"


STAFF_ROLES = (Role.ADMIN, Role.CLINICIAN)

# Fields a patient may change on their own record; everything else on the
# record is clinical (allergies, pregnancy, date of birth) or identity (email)
# and is the care team's to edit.
PATIENT_EDITABLE_FIELDS = frozenset({"name", "timezone"})


@dataclass(frozen=True, kw_only=True)
class Principal:
    """The authenticated caller."""

    user_id: uuid.UUID
    role: Role
    patient_id: uuid.UUID | None = None


def can_read_patient(
    who: Principal, *, patient_id: uuid.UUID, care_team: Collection[uuid.UUID]
) -> bool:
    """Patients read themselves; clinicians the patients on their care team.

    Admins manage accounts and care teams but do not read clinical records.
    """
    if who.role is Role.PATIENT:
        return who.patient_id == patient_id
    if who.role is Role.CLINICIAN:
        return who.user_id in care_team
    return False


def can_view_patient_record(
    who: Principal, *, patient_id: uuid.UUID, care_team: Collection[uuid.UUID]
) -> bool:
    """The patient record (not prescriptions): its readers, plus admins who manage teams."""
    return who.role is Role.ADMIN or can_read_patient(
        who, patient_id=patient_id, care_team=care_team
    )


def sees_clinical_fields(who: Principal) -> bool:
    """Admins see who a patient is (to manage care teams), not their clinical details."""
    return who.role is not Role.ADMIN


def can_write_clinical(who: Principal, *, care_team: Collection[uuid.UUID]) -> bool:
    """Only a clinician on the patient's care team changes clinical records."""
    return who.role is Role.CLINICIAN and who.user_id in care_team


def forbidden_patient_fields(who: Principal, fields: Collection[str]) -> list[str]:
    """The fields of a patient update that this caller may not set."""
    if who.role is Role.PATIENT:
        return sorted(set(fields) - PATIENT_EDITABLE_FIELDS)
    return []
