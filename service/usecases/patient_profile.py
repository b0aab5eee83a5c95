"""A patient's record: listing, reading and updating who they are, what the
prescriber must know (allergies, pregnancy, date of birth, time zone) and how they
are told (language, notification privacy)."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping
from typing import Any

from service.db.tables import User
from service.db.uow import UnitOfWork
from service.domain.accounts import (
    Principal,
    Role,
    check_patient_fields,
    forbidden_patient_fields,
    normalise_patient_fields,
)
from service.domain.audit import AuditAction
from service.domain.interactions import KnowledgeBase
from service.domain.pages import Page, sliced
from service.usecases.access import PatientContext, load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden, domain_rules
from service.usecases.patient_records import PatientRecord, record_in, record_of, shown_to
from service.usecases.planning import replan
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.rescreening import rescreen
from service.usecases.taper_plans import reschedule_steps

_WHO_SETS = {
    "email": "The sign-in e-mail is changed by an administrator.",
    "*": "Only the care team may change this.",
}
_USER_FIELDS = ("name", "email")
_PATIENT_FIELDS = (
    "timezone",
    "date_of_birth",
    "allergies",
    "pregnant",
    "locale",
    "notification_privacy",
)
# Fields the interaction and dose checks read: a change screens the regimen again.
_SCREENED_FIELDS = ("allergies", "pregnant", "date_of_birth")


def checked_fields(values: Mapping[str, Any], *, today: dt.date) -> dict[str, Any]:
    """The fields of a patient record, normalised, once every one is valid."""
    with domain_rules("Some patient fields are not valid."):
        check_patient_fields(values, today=today)
    return normalise_patient_fields(values)


def _found(needle: str | None, user: User) -> bool:
    return not needle or needle in user.name.lower() or needle in user.email.lower()


def list_patients(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    limit: int,
    offset: int,
    q: str | None = None,
) -> Page[PatientRecord]:
    """Clinicians see their care-team patients, admins every patient, a patient themself;
    by name. With `q`, only those whose name or e-mail contains it, in any case."""
    who = caller.require()
    needle = (q or "").strip().lower() or None
    with uow:
        if who.role is Role.PATIENT:
            own = uow.patients.get(who.patient_id) if who.patient_id else None
            user = uow.users.get(who.user_id)
            found = [(own, user)] if own and user and _found(needle, user) else []
            rows = sliced(found, limit=limit, offset=offset)
        else:
            mine = who.user_id if who.role is Role.CLINICIAN else None
            rows = uow.patients.list_page(
                clinician_id=mine, limit=limit, offset=offset, search=needle
            )
        teams = uow.patients.care_teams([p.id for p, _ in rows])
        records = [shown_to(who, record_of(p, u, teams[p.id])) for p, u in rows]
        now = clock()
        for rec in records:
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.READ,
                subtype="patient.list",
                entity_type="Patient",
                entity_id=rec.id,
                patient_id=rec.id,
            )
        uow.commit()
        return Page(records, total=rows.total)


def get_patient(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, patient_id: uuid.UUID
) -> PatientRecord:
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="patient.read",
            entity_type="Patient",
            patient_id=patient_id,
            entity_id=patient_id,
        )
        return shown_to(caller.require(), record_in(ctx))


def update_patient(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    changes: Mapping[str, Any],
    policy: ReminderPolicy = DEFAULT_POLICY,
) -> PatientRecord:
    """Patients change their name, time zone, language and notification privacy;
    administrators the sign-in e-mail; the care team the rest. A new time zone plans
    the future doses again at the same local times."""
    who = caller.require()
    now = clock()
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        _refuse_others_fields(who, changes, patient_id=patient_id)
        uow.record.serialise(patient_id)
        v = checked_fields(changes, today=now.date())
        _refuse_taken_email(uow, ctx, v)
        before = record_in(ctx)
        _apply(ctx, v)
        after = record_in(ctx)
        if after != before:
            _file_update(uow, kb, policy, caller, ctx, before=before, after=after, now=now)
            uow.commit()
        return shown_to(who, after)


def _refuse_others_fields(
    who: Principal, changes: Mapping[str, Any], *, patient_id: uuid.UUID
) -> None:
    denied = forbidden_patient_fields(who, changes)
    if denied:
        raise Forbidden(
            "These fields are set by someone else.",
            errors={f: [_WHO_SETS.get(f, _WHO_SETS["*"])] for f in denied},
            patient_id=patient_id,
        )


def _refuse_taken_email(uow: UnitOfWork, ctx: PatientContext, v: Mapping[str, Any]) -> None:
    if "email" in v and v["email"] != ctx.user.email and uow.users.by_email(v["email"]):
        raise Conflict(
            "An account with this email already exists.",
            errors={"email": ["Already registered."]},
        )


def _apply(ctx: PatientContext, v: Mapping[str, Any]) -> None:
    """The changes onto the account (name, e-mail) and the record (the rest)."""
    for key in _USER_FIELDS:
        if key in v:
            setattr(ctx.user, key, v[key])
    for key in _PATIENT_FIELDS:
        if key in v:
            setattr(ctx.patient, key, v[key])


def _file_update(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    caller: Caller,
    ctx: PatientContext,
    *,
    before: PatientRecord,
    after: PatientRecord,
    now: dt.datetime,
) -> None:
    """Audit a change, and redo what depends on the changed fields: the dose times
    (time zone) and the regimen's screening (what the checks read)."""
    patient_id = ctx.patient.id
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="patient.update",
        entity_type="Patient",
        entity_id=patient_id,
        patient_id=patient_id,
        before=before,
        after=after,
    )
    if after.timezone != before.timezone:
        replan(uow, kb, policy, now=now, patient_id=patient_id, new_zone=True)
        reschedule_steps(uow, patient_id, zoneinfo.ZoneInfo(after.timezone))
    if any(getattr(after, k) != getattr(before, k) for k in _SCREENED_FIELDS):
        rescreen(uow, kb, caller=caller, patient=ctx.patient, now=now, cause="patient.update")
