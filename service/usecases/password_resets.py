"""Password resets: a one-time code given by the care team or an administrator.

Like account activation: the code is shown once, stored as a digest, expires, and
works once. Patients get theirs from a clinician on their care team or an admin;
staff from an admin. Redeeming it sets a new password and ends every session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from service.db.tables import User
from service.db.uow import UnitOfWork
from service.domain.accounts import (
    AccountState,
    NoticeKind,
    Role,
    SessionEnd,
    client_group,
    may_issue_password_reset,
)
from service.domain.audit import AuditAction
from service.usecases.access import load_readable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.usecases.security import (
    Passwords,
    activation_code_hash,
    new_activation_code,
    password_problems,
)
from service.usecases.sessions import LoginPolicy, end_every_session, tell_owner
from service.usecases.throttling import count_client_attempt


@dataclass(frozen=True, kw_only=True)
class ResetCode:
    user_id: uuid.UUID
    reset_code: str
    expires_at: dt.datetime


def issue_for_user(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, policy: LoginPolicy, user_id: uuid.UUID
) -> ResetCode:
    """A reset code for any account (administrators only); a patient's is filed in
    their record's trail."""
    # This route reaches every account, so it is for those who may reset anyone's.
    if not may_issue_password_reset(caller.require(), target_role=Role.ADMIN):
        raise Forbidden("Only an administrator may reset a staff password.")
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound(f"No user {user_id}.")
        own = uow.patients.by_user(user.id)
        code = _issue(
            uow,
            caller=caller,
            clock=clock,
            policy=policy,
            user=user,
            patient_id=own.id if own else None,
        )
        uow.commit()
        return code


def issue_for_patient(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, policy: LoginPolicy, patient_id: uuid.UUID
) -> ResetCode:
    """A reset code for a patient, from a clinician on their care team or an admin."""
    with uow:
        ctx = load_readable_patient(
            uow, caller=caller, patient_id=patient_id, staff_only=True, record_only=True
        )
        allowed = may_issue_password_reset(
            caller.require(), target_role=Role.PATIENT, care_team=ctx.care_team
        )
        if not allowed:
            raise Forbidden("Only the care team or an administrator may reset this password.")
        code = _issue(
            uow, caller=caller, clock=clock, policy=policy, user=ctx.user, patient_id=patient_id
        )
        uow.commit()
        return code


def _issue(
    uow: UnitOfWork,
    *,
    caller: Caller,
    clock: Clock,
    policy: LoginPolicy,
    user: User,
    patient_id: uuid.UUID | None,
) -> ResetCode:
    state = AccountState(activated=user.password_hash is not None, active=user.is_active)
    if not state.may_get_reset_code():
        raise Conflict(
            "This account has never been activated; give its owner an activation code.",
            errors={"user": ["Not activated."]},
        )
    now = clock()
    code = new_activation_code()
    expires = now + policy.reset_ttl
    uow.sessions.add_reset(
        user_id=user.id,
        code_hash=activation_code_hash(code),
        issued_by=caller.require().user_id,
        now=now,
        expires_at=expires,
    )
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="password-reset.issue",
        entity_type="User",
        entity_id=user.id,
        patient_id=patient_id,
        after={"expires_at": expires},
    )
    return ResetCode(user_id=user.id, reset_code=code, expires_at=expires)


def redeem(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    passwords: Passwords,
    policy: LoginPolicy,
    reset_code: str,
    new_password: str,
) -> None:
    """Set a new password with a reset code; every session of the account ends."""
    now = clock()
    _refuse_weak_password(new_password)
    key = f"reset-client:{client_group(caller.source_ip)}"
    with uow:
        count_client_attempt(uow, key=key, limit=policy.client_max_failures, now=now)
    # Hashed before the transaction: Argon2 is slow and SQLite has one writer.
    password_hash = passwords.hash(new_password)
    with uow:
        user_id = uow.sessions.claim_reset(activation_code_hash(reset_code), now=now)
        user = uow.users.get(user_id) if user_id is not None else None
        if user is None:
            raise ValidationFailed(
                "The reset code is invalid, used or expired.",
                errors={"reset_code": ["Invalid, used or expired; ask for a new one."]},
            )
        # Refused here, the claim above is rolled back: the code still works.
        _refuse_weak_password(new_password, email=user.email)
        uow.login_throttle.release(key, now=now)
        user.password_hash = password_hash
        ended = end_every_session(uow, user=user, now=now, reason=SessionEnd.PASSWORD_RESET)
        _file_redeemed(uow, caller=caller, user=user, now=now, ended=ended)
        uow.commit()


def _refuse_weak_password(password: str, *, email: str | None = None) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationFailed("The password is not acceptable.", errors={"new_password": problems})


def _file_redeemed(
    uow: UnitOfWork, *, caller: Caller, user: User, now: dt.datetime, ended: int
) -> None:
    """Audited (under the patient's record, for a patient), and the owner told."""
    patient = uow.patients.by_user(user.id) if user.role == Role.PATIENT.value else None
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="password-reset.redeem",
        entity_type="User",
        entity_id=user.id,
        patient_id=patient.id if patient else None,
        actor_id=user.id,
        after={"sessions_ended": ended},
    )
    tell_owner(
        uow,
        caller=caller,
        user_id=user.id,
        now=now,
        kind=NoticeKind.PASSWORD_RESET,
        message="Your password was reset with a reset code and your sessions were ended.",
    )
