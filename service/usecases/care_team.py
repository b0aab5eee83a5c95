"""Joining a care team: the one write that an administrator's addition and a
patient's yes to an enrolment share, audited under the patient."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from service.db.tables import CareTeamMember, Enrolment
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.usecases.audit import record
from service.usecases.context import Caller
from service.usecases.errors import Conflict
from service.usecases.ports import CareTeamChanges

# Care teams are listed whole (no pages), and every patient read checks membership.
MAX_CARE_TEAM = 50


def add_member(
    uow: CareTeamChanges,
    caller: Caller,
    *,
    patient_id: uuid.UUID,
    clinician_id: uuid.UUID,
    added_by: uuid.UUID,
    now: dt.datetime,
    enrolment_id: uuid.UUID | None = None,
) -> None:
    """A clinician joins the care team, audited under the patient."""
    uow.patients.add_member(
        CareTeamMember(
            patient_id=patient_id, clinician_id=clinician_id, added_by=added_by, added_at=now
        )
    )
    after: dict[str, Any] = {"clinician_id": clinician_id}
    if enrolment_id is not None:
        after["enrolment_id"] = enrolment_id
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="careteam.add",
        entity_type="CareTeam",
        entity_id=clinician_id,
        patient_id=patient_id,
        actor_id=added_by,
        after=after,
    )


def join_by_consent(
    uow: UnitOfWork,
    caller: Caller,
    enrolment: Enrolment,
    *,
    patient_id: uuid.UUID,
    actor_id: uuid.UUID,
    now: dt.datetime,
) -> None:
    """The enrolling clinician joins the care team, by the patient's own yes (once)."""
    clinician_id = enrolment.clinician_id
    uow.patients.lock(patient_id)
    members = uow.patients.care_team(patient_id)
    if any(m.clinician_id == clinician_id for m in members):
        return
    if len(members) >= MAX_CARE_TEAM:
        raise Conflict(
            f"At most {MAX_CARE_TEAM} clinicians on a care team; ask one to leave first."
        )
    add_member(
        uow,
        caller,
        patient_id=patient_id,
        clinician_id=clinician_id,
        added_by=actor_id,
        now=now,
        enrolment_id=enrolment.id,
    )
