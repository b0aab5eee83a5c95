"""Patients: creation by a clinician, reading, updating, and care-team membership."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from service.db.tables import CareTeamMember, Enrolment, Patient, User
from service.db.uow import UnitOfWork
from service.domain.accounts import (
    Principal,
    Role,
    client_group,
    forbidden_patient_fields,
    sees_clinical_fields,
)
from service.domain.audit import AuditAction
from service.domain.errors import Problems
from service.domain.interactions import KnowledgeBase
from service.domain.timezones import is_valid_timezone
from service.usecases.access import PatientContext, load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import (
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    domain_rules,
)
from service.usecases.planning import replan
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.rescreening import rescreen
from service.usecases.security import activation_code_hash, new_activation_code
from service.usecases.taper_plans import reschedule_steps
from service.usecases.throttling import count_client_attempt

EARLIEST_BIRTH = dt.date(1900, 1, 1)
MAX_ALLERGIES = 100
# Care teams are listed whole (no pages), and every patient read checks membership.
MAX_CARE_TEAM = 50


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
    activation_code: str | None = None
    activation_expires_at: dt.datetime | None = None


def _record_of(patient: Patient, user: User, care_team: list[uuid.UUID]) -> PatientRecord:
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
    )


def _from_ctx(ctx: PatientContext) -> PatientRecord:
    return _record_of(ctx.patient, ctx.user, ctx.care_team)


def _shown_to(who: Principal, rec: PatientRecord) -> PatientRecord:
    if sees_clinical_fields(who):
        return rec
    return replace(rec, date_of_birth=None, allergies=None, pregnant=None)


def _check_fields(values: Mapping[str, Any], *, today: dt.date) -> None:
    problems = Problems()
    if "timezone" in values and not is_valid_timezone(values["timezone"]):
        problems.add("timezone", "Unknown time zone; use an IANA name such as Europe/London.")
    dob = values.get("date_of_birth")
    if dob is not None and not EARLIEST_BIRTH <= dob <= today:
        problems.add("date_of_birth", f"Must be between {EARLIEST_BIRTH} and today.")
    if "name" in values and not str(values["name"]).strip():
        problems.add("name", "Must not be blank.")
    allergies = values.get("allergies")
    if allergies is not None:
        if len(allergies) > MAX_ALLERGIES:
            problems.add("allergies", f"At most {MAX_ALLERGIES} entries.")
        if any(not a.strip() for a in allergies):
            problems.add("allergies", "Entries must not be blank.")
    with domain_rules("Some patient fields are not valid."):
        problems.raise_if_any()


def _normalise(values: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "name" in out:
        out["name"] = out["name"].strip()
    if "email" in out:
        out["email"] = out["email"].strip().lower()
    if "allergies" in out:
        seen: dict[str, str] = {}
        for a in out["allergies"]:
            seen.setdefault(a.strip().lower(), a.strip())
        out["allergies"] = list(seen.values())
    return out


@dataclass(frozen=True, kw_only=True)
class EnrolmentRecord:
    """What a clinician sees of an enrolment: the same whether the e-mail was new or
    already had an account, until the person accepts; then the patient's id."""

    id: uuid.UUID
    email: str
    status: str
    expires_at: dt.datetime
    created_at: dt.datetime
    patient_id: uuid.UUID | None = None
    activation_code: str | None = None


def _enrolment_record(e: Enrolment, *, now: dt.datetime) -> EnrolmentRecord:
    if e.accepted_at is not None:
        status = "accepted"
    elif e.expires_at <= now:
        status = "expired"
    else:
        status = "pending"
    return EnrolmentRecord(
        id=e.id,
        email=e.email,
        status=status,
        expires_at=e.expires_at,
        created_at=e.created_at,
        patient_id=e.patient_id if e.accepted_at is not None else None,
    )


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
    values = {
        "name": name,
        "email": email,
        "timezone": timezone,
        "date_of_birth": date_of_birth,
        "allergies": allergies or [],
        "pregnant": pregnant,
    }
    _check_fields(values, today=now.date())
    v = _normalise(values)
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
    return replace(_enrolment_record(enrolment, now=now), activation_code=code)


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
        after=_record_of(patient, user, []),
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
    uow.session.add(enrolment)
    _join(uow, caller, enrolment, patient_id=patient.id, actor_id=patient.user_id, now=now)


def _join(
    uow: UnitOfWork,
    caller: Caller,
    enrolment: Enrolment,
    *,
    patient_id: uuid.UUID,
    actor_id: uuid.UUID,
    now: dt.datetime,
) -> None:
    """The enrolling clinician joins the care team, by the patient's own yes."""
    clinician_id = enrolment.clinician_id
    uow.patients.lock(patient_id)
    members = uow.patients.care_team(patient_id)
    if any(m.clinician_id == clinician_id for m in members):
        return
    if len(members) >= MAX_CARE_TEAM:
        raise Conflict(
            f"At most {MAX_CARE_TEAM} clinicians on a care team; ask one to leave first."
        )
    _add_member(
        uow,
        caller,
        patient_id=patient_id,
        clinician_id=clinician_id,
        added_by=actor_id,
        now=now,
        enrolment_id=enrolment.id,
    )


def _add_member(
    uow: UnitOfWork,
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
            or enrolment.invited_user_id != who.user_id
            or enrolment.expires_at <= now
        ):
            raise ValidationFailed(
                "The invitation code is invalid or has expired.",
                errors={"code": ["Invalid or expired; ask your clinician for a new one."]},
            )
        uow.login_throttle.release(key, now=now)
        enrolment.accepted_at = now
        enrolment.code_hash = None
        enrolment.patient_id = own.id
        uow.session.add(enrolment)
        _join(uow, caller, enrolment, patient_id=own.id, actor_id=who.user_id, now=now)
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
        uow.commit()
        return _enrolment_record(enrolment, now=now)


def list_enrolments(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, limit: int, offset: int
) -> list[EnrolmentRecord]:
    """A clinician's enrolments, newest first: pending ones read alike whatever the
    e-mail; an accepted one names its patient."""
    who = caller.require()
    if who.role is not Role.CLINICIAN:
        raise Forbidden("Only clinicians enrol patients.")
    now = clock()
    with uow:
        rows = uow.patients.enrolments(who.user_id, limit=limit, offset=offset)
        return [_enrolment_record(e, now=now) for e in rows]


def list_patients(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, limit: int, offset: int
) -> list[PatientRecord]:
    """Clinicians see their care-team patients, admins every patient, a patient themself."""
    who = caller.require()
    with uow:
        if who.role is Role.PATIENT:
            own = uow.patients.get(who.patient_id) if who.patient_id else None
            user = uow.users.get(who.user_id)
            rows = [(own, user)] if own and user and offset == 0 and limit > 0 else []
        else:
            mine = who.user_id if who.role is Role.CLINICIAN else None
            rows = uow.patients.list_page(clinician_id=mine, limit=limit, offset=offset)
        teams = uow.patients.care_teams([p.id for p, _ in rows])
        records = [_shown_to(who, _record_of(p, u, teams[p.id])) for p, u in rows]
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
        return records


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
        return _shown_to(caller.require(), _from_ctx(ctx))


_WHO_SETS = {
    "email": "The sign-in e-mail is changed by an administrator.",
    "*": "Only the care team may change this.",
}


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
    """Patients change their name and time zone; administrators the sign-in e-mail;
    the care team the rest. A new time zone plans the future doses again at the same
    local times."""
    who = caller.require()
    now = clock()
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        denied = forbidden_patient_fields(who, changes)
        if denied:
            raise Forbidden(
                "These fields are set by someone else.",
                errors={f: [_WHO_SETS.get(f, _WHO_SETS["*"])] for f in denied},
                patient_id=patient_id,
            )
        uow.record.serialise(patient_id)
        _check_fields(changes, today=now.date())
        v = _normalise(changes)
        if "email" in v and v["email"] != ctx.user.email and uow.users.by_email(v["email"]):
            raise Conflict(
                "An account with this email already exists.",
                errors={"email": ["Already registered."]},
            )
        before = _from_ctx(ctx)
        for key in ("name", "email"):
            if key in v:
                setattr(ctx.user, key, v[key])
        for key in ("timezone", "date_of_birth", "allergies", "pregnant"):
            if key in v:
                setattr(ctx.patient, key, v[key])
        after = _from_ctx(ctx)
        if after != before:
            uow.session.add_all([ctx.user, ctx.patient])
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
            screened = ("allergies", "pregnant", "date_of_birth")
            if any(getattr(after, k) != getattr(before, k) for k in screened):
                rescreen(
                    uow, kb, caller=caller, patient=ctx.patient, now=now, cause="patient.update"
                )
            uow.commit()
        return _shown_to(who, after)


@dataclass(frozen=True, kw_only=True)
class CareTeamEntry:
    clinician_id: uuid.UUID
    name: str
    email: str
    added_at: dt.datetime


def get_care_team(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, patient_id: uuid.UUID
) -> list[CareTeamEntry]:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
        team = _team(uow, patient_id)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="careteam.read",
            entity_type="CareTeam",
            patient_id=patient_id,
        )
        return team


def _team(uow: UnitOfWork, patient_id: uuid.UUID) -> list[CareTeamEntry]:
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


def _require_admin_on(uow: UnitOfWork, caller: Caller, patient_id: uuid.UUID) -> None:
    load_readable_patient(uow, caller=caller, patient_id=patient_id, record_only=True)
    if caller.require().role is not Role.ADMIN:
        raise Forbidden("Only an administrator changes care teams.")
    uow.patients.lock(patient_id)


def add_care_team_member(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    clinician_id: uuid.UUID,
) -> list[CareTeamEntry]:
    now = clock()
    with uow:
        _require_admin_on(uow, caller, patient_id)
        clinician = uow.users.get(clinician_id)
        if clinician is None or clinician.role != Role.CLINICIAN.value or not clinician.is_active:
            raise ValidationFailed(
                "No active clinician with this id.",
                errors={"clinician_id": ["Not an active clinician."]},
            )
        members = uow.patients.care_team(patient_id)
        if any(m.clinician_id == clinician_id for m in members):
            raise Conflict("This clinician is already on the care team.")
        if len(members) >= MAX_CARE_TEAM:
            raise Conflict(f"At most {MAX_CARE_TEAM} clinicians on a care team; remove one first.")
        _add_member(
            uow,
            caller,
            patient_id=patient_id,
            clinician_id=clinician_id,
            added_by=caller.require().user_id,
            now=now,
        )
        team = _team(uow, patient_id)
        uow.commit()
        return team


def remove_care_team_member(
    *,
    uow: UnitOfWork,
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
        uow.session.add(member)
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
        team = _team(uow, patient_id)
        uow.commit()
        return team
