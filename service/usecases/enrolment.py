"""Enrolment: a clinician asks to care for someone by e-mail, and the person says yes
(by activating a new account, or by accepting an invitation to the one they have)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from service.db.tables import Enrolment, Patient, User
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role, client_group, may_accept_invitation
from service.domain.audit import AuditAction
from service.domain.pages import Page
from service.usecases.audit import record
from service.usecases.care_team import join_by_consent
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, ValidationFailed
from service.usecases.patient_profile import checked_fields
from service.usecases.patient_records import EnrolmentRecord, enrolment_record, record_of
from service.usecases.security import activation_code_hash, new_activation_code
from service.usecases.throttling import count_client_attempt


def create_patient(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    activation_ttl: dt.timedelta,
    name: str,
    email: str,
    timezone: str,
    date_of_birth: dt.date,
    allergies: list[str] | None = None,
    pregnant: bool = False,
) -> EnrolmentRecord:
    """A clinician enrols someone by e-mail and gets a one-time code to hand them.

    A new e-mail gets an account and a record, which the code activates; an e-mail
    that already has an account (a patient of another team, or anyone's) gets an
    invitation, which its holder accepts signed in. The answer is the same either
    way, and the clinician joins the care team only once the person has said yes,
    so no clinician learns from it whether an account exists."""
    who = caller.require()
    if who.role is not Role.CLINICIAN:
        raise Forbidden("Only clinicians create patients.")
    now = clock()
    fields = {
        "name": name,
        "email": email,
        "timezone": timezone,
        "date_of_birth": date_of_birth,
        "allergies": allergies or [],
        "pregnant": pregnant,
    }
    v = checked_fields(fields, today=now.date())
    code = new_activation_code()
    expires_at = now + activation_ttl
    with uow:
        existing = uow.users.by_email(v["email"])
        if existing is None:
            enrolment = _new_account(uow, caller, who, v, code=code, now=now, expires_at=expires_at)
        else:
            enrolment = _invitation(
                uow, caller, who, existing, code=code, now=now, expires_at=expires_at
            )
        uow.commit()
    return replace(enrolment_record(enrolment, now=now), activation_code=code)


def _new_account(
    uow: UnitOfWork,
    caller: Caller,
    who: Principal,
    v: Mapping[str, Any],
    *,
    code: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> Enrolment:
    user = uow.users.add(
        User(email=v["email"], name=v["name"], role=Role.PATIENT.value, created_at=now)
    )
    patient = uow.patients.add(
        Patient(
            user_id=user.id,
            date_of_birth=v["date_of_birth"],
            timezone=v["timezone"],
            allergies=v["allergies"],
            pregnant=v["pregnant"],
            created_by=who.user_id,
            created_at=now,
            activation_code_hash=activation_code_hash(code),
            activation_expires_at=expires_at,
        )
    )
    enrolment = uow.patients.add_enrolment(
        Enrolment(
            clinician_id=who.user_id,
            email=user.email,
            patient_id=patient.id,
            expires_at=expires_at,
            created_at=now,
        )
    )
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="patient.create",
        entity_type="Patient",
        entity_id=patient.id,
        patient_id=patient.id,
        after=record_of(patient, user, []),
    )
    return enrolment


def _invitation(
    uow: UnitOfWork,
    caller: Caller,
    who: Principal,
    holder: User,
    *,
    code: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> Enrolment:
    enrolment = uow.patients.add_enrolment(
        Enrolment(
            clinician_id=who.user_id,
            email=holder.email,
            invited_user_id=holder.id,
            code_hash=activation_code_hash(code),
            expires_at=expires_at,
            created_at=now,
        )
    )
    # Filed in the holder's record, when they have one, for their care team to see.
    own = uow.patients.by_user(holder.id)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="care-invitation.create",
        entity_type="Enrolment",
        entity_id=enrolment.id,
        patient_id=own.id if own else None,
        after={"clinician_id": who.user_id, "expires_at": expires_at},
    )
    return enrolment


def join_on_activation(
    uow: UnitOfWork, *, caller: Caller, patient: Patient, now: dt.datetime
) -> None:
    """The clinician who enrolled a new account joins its care team as it is activated."""
    enrolment = uow.patients.enrolment_of(patient.id)
    if enrolment is None or enrolment.accepted_at is not None:
        return
    enrolment.accepted_at = now
    join_by_consent(
        uow, caller, enrolment, patient_id=patient.id, actor_id=patient.user_id, now=now
    )


def is_invitation_code(uow: UnitOfWork, code: str) -> bool:
    """Whether a code that activates nothing invites an existing account instead
    (its holder is told to sign in and accept it)."""
    return uow.patients.invitation(activation_code_hash(code)) is not None


def accept_invitation(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, client_limit: int, code: str
) -> EnrolmentRecord:
    """The holder of an account, signed in, accepts a clinician's invitation: the
    clinician joins their care team."""
    who = caller.require()
    now = clock()
    key = f"invitation-client:{client_group(caller.source_ip)}"
    with uow:
        count_client_attempt(uow, key=key, limit=client_limit, now=now)
    with uow:
        enrolment = uow.patients.invitation(activation_code_hash(code), lock=True)
        own = uow.patients.by_user(who.user_id) if who.role is Role.PATIENT else None
        if (
            enrolment is None
            or own is None
            or not may_accept_invitation(
                who,
                invited_user_id=enrolment.invited_user_id,
                expires_at=enrolment.expires_at,
                now=now,
            )
        ):
            raise ValidationFailed(
                "The invitation code is invalid or has expired.",
                errors={"code": ["Invalid or expired; ask your clinician for a new one."]},
            )
        uow.login_throttle.release(key, now=now)
        _accept(uow, caller, enrolment, own=own, now=now)
        uow.commit()
        return enrolment_record(enrolment, now=now)


def _accept(
    uow: UnitOfWork, caller: Caller, enrolment: Enrolment, *, own: Patient, now: dt.datetime
) -> None:
    """The invitation is used up and filed under the record its holder brought."""
    enrolment.accepted_at = now
    enrolment.code_hash = None
    enrolment.patient_id = own.id
    join_by_consent(uow, caller, enrolment, patient_id=own.id, actor_id=own.user_id, now=now)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="care-invitation.accept",
        entity_type="Enrolment",
        entity_id=enrolment.id,
        patient_id=own.id,
        after={"clinician_id": enrolment.clinician_id},
    )


def list_enrolments(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, limit: int, offset: int
) -> Page[EnrolmentRecord]:
    """A clinician's enrolments, newest first: pending ones read alike whatever the
    e-mail; an accepted one names its patient."""
    who = caller.require()
    if who.role is not Role.CLINICIAN:
        raise Forbidden("Only clinicians enrol patients.")
    now = clock()
    with uow:
        rows = uow.patients.enrolments(who.user_id, limit=limit, offset=offset)
        return rows.map(lambda e: enrolment_record(e, now=now))
