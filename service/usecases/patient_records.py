"""What the patient use cases hand back: a patient's record, an enrolment, a care team.

Views, never rows: built here from the rows a use case loaded, so that callers and
the audit trail see the same shape whatever door they came in by.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace

from service.db.tables import Enrolment, Patient, User
from service.domain.accounts import (
    EnrolmentStatus,
    Principal,
    enrolment_status,
    sees_clinical_fields,
)
from service.usecases.access import PatientContext
from service.usecases.ports import PatientAccess


@dataclass(frozen=True, kw_only=True)
class PatientRecord:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    email: str
    timezone: str
    # None for administrators, who see who a patient is but not their clinical details.
    date_of_birth: dt.date | None
    allergies: list[str] | None
    pregnant: bool | None
    activated: bool
    care_team: list[uuid.UUID]
    created_at: dt.datetime
    locale: str = "en"
    notification_privacy: str = "discreet"
    activation_code: str | None = None
    activation_expires_at: dt.datetime | None = None


def record_of(patient: Patient, user: User, care_team: list[uuid.UUID]) -> PatientRecord:
    return PatientRecord(
        id=patient.id,
        user_id=user.id,
        name=user.name,
        email=user.email,
        timezone=patient.timezone,
        date_of_birth=patient.date_of_birth,
        allergies=list(patient.allergies),
        pregnant=patient.pregnant,
        activated=patient.activated_at is not None,
        care_team=care_team,
        created_at=patient.created_at,
        locale=patient.locale,
        notification_privacy=patient.notification_privacy,
    )


def record_in(ctx: PatientContext) -> PatientRecord:
    return record_of(ctx.patient, ctx.user, ctx.care_team)


def shown_to(who: Principal, rec: PatientRecord) -> PatientRecord:
    """The record with what this caller may not see left out."""
    if sees_clinical_fields(who):
        return rec
    return replace(rec, date_of_birth=None, allergies=None, pregnant=None)


@dataclass(frozen=True, kw_only=True)
class EnrolmentRecord:
    """What a clinician sees of an enrolment: the same whether the e-mail was new or
    already had an account, until the person accepts; then the patient's id."""

    id: uuid.UUID
    email: str
    status: EnrolmentStatus
    expires_at: dt.datetime
    created_at: dt.datetime
    patient_id: uuid.UUID | None = None
    activation_code: str | None = None


def enrolment_record(e: Enrolment, *, now: dt.datetime) -> EnrolmentRecord:
    status = enrolment_status(accepted_at=e.accepted_at, expires_at=e.expires_at, now=now)
    return EnrolmentRecord(
        id=e.id,
        email=e.email,
        status=status,
        expires_at=e.expires_at,
        created_at=e.created_at,
        patient_id=e.patient_id if status is EnrolmentStatus.ACCEPTED else None,
    )


@dataclass(frozen=True, kw_only=True)
class CareTeamEntry:
    clinician_id: uuid.UUID
    name: str
    email: str
    added_at: dt.datetime


def care_team_entries(uow: PatientAccess, patient_id: uuid.UUID) -> list[CareTeamEntry]:
    """The patient's current care team, in the order its members joined."""
    entries = []
    for m in uow.patients.care_team(patient_id):
        user = uow.users.get(m.clinician_id)
        assert user is not None
        entries.append(
            CareTeamEntry(
                clinician_id=user.id, name=user.name, email=user.email, added_at=m.added_at
            )
        )
    return entries
