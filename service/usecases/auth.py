"""Logging in and out, changing a password, activating a patient account, and
checking tokens."""

from __future__ import annotations

import datetime as dt

from service.db.tables import Patient, User
from service.db.uow import UnitOfWork
from service.domain.accounts import (
    AccountState,
    NoticeKind,
    Principal,
    Role,
    SessionEnd,
    client_group,
)
from service.domain.audit import AuditAction, AuditOutcome
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.enrolment import is_invitation_code, join_on_activation
from service.usecases.errors import Unauthenticated, ValidationFailed
from service.usecases.security import (
    Passwords,
    Tokens,
    activation_code_hash,
    password_problems,
    secret_digest,
)
from service.usecases.sessions import (
    IssuedToken,
    LoginPolicy,
    end_every_session,
    start_session,
    tell_owner,
)
from service.usecases.throttling import LoginKeys, count_client_attempt, login_keys, pace
from service.usecases.users import Me

__all__ = ["IssuedToken", "LoginPolicy", "activate", "authenticate", "change_password", "login"]


def _login_failed(
    uow: UnitOfWork,
    *,
    caller: Caller,
    policy: LoginPolicy,
    keys: LoginKeys,
    user: User | None,
    now: dt.datetime,
) -> None:
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.EXECUTE,
        subtype="login",
        entity_type="User",
        entity_id=user.id if user else None,
        outcome=AuditOutcome.MINOR_FAILURE,
        outcome_desc="incorrect email or password",
    )
    failures, _ = uow.login_throttle.attempt(keys.account, now=now)
    # Once per window, at the limit: enough to notice, not a message per guess.
    if user is None or failures != policy.max_failures:
        return
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.EXECUTE,
        subtype="login.repeated-failures",
        entity_type="User",
        entity_id=user.id,
        outcome=AuditOutcome.SERIOUS_FAILURE,
        outcome_desc=f"{failures} failed logins in a row; the owner was told",
    )
    tell_owner(
        uow,
        caller=caller,
        user_id=user.id,
        now=now,
        kind=NoticeKind.LOGIN_FAILURES,
        message=(
            f"{failures} attempts to sign in to your account with a wrong password. "
            "If this was not you, change your password."
        ),
    )


def _may_sign_in(user: User) -> bool:
    """Whether the password may open this account at all (it is checked either way,
    so that a refusal takes as long as a wrong password)."""
    return AccountState(
        activated=user.password_hash is not None, active=user.is_active
    ).may_sign_in()


def login(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    passwords: Passwords,
    tokens: Tokens,
    policy: LoginPolicy,
    email: str,
    password: str,
) -> IssuedToken:
    """Exchange e-mail and password for a session; attempts are counted and audited."""
    now = clock()
    email = email.strip().lower()
    keys = login_keys(email, caller.source_ip)
    with uow:
        pace(uow, keys, policy, now)
    with uow:
        user = uow.users.by_email(email)
        stored = user.password_hash if user is not None and _may_sign_in(user) else None
        if not passwords.verify(stored, password) or user is None:
            _login_failed(uow, caller=caller, policy=policy, keys=keys, user=user, now=now)
            uow.commit()
            raise Unauthenticated("Incorrect email or password.")
        if passwords.needs_rehash(stored or ""):
            user.password_hash = passwords.hash(password)
        uow.login_throttle.reset(keys.pair)
        uow.login_throttle.reset(keys.account)
        seconds = int(policy.refresh_ttl.total_seconds())
        uow.login_throttle.remember(keys.known, now=now, seconds=seconds)
        if keys.client:
            uow.login_throttle.release(keys.client, now=now)
        token = start_session(uow, tokens=tokens, policy=policy, user=user, now=now)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.EXECUTE,
            subtype="login",
            entity_type="User",
            entity_id=user.id,
            actor_id=user.id,
        )
        uow.commit()
        return token


def authenticate(*, uow: UnitOfWork, clock: Clock, tokens: Tokens, token: str) -> Principal:
    """The principal behind a bearer token that is well signed, unexpired and not revoked."""
    now = clock()
    claims = tokens.decode(token, now=now)
    if claims is None:
        raise Unauthenticated("The access token is invalid or has expired.")
    # One statement, so no transaction: no BEGIN and ROLLBACK round trips.
    with uow.read_only() as reading:
        row = reading.tokens.holder(secret_digest(claims.jti))
    if (
        row is None
        or row.revoked_at is not None
        or row.expires_at <= now  # the stored expiry, whatever the token says
        or row.generation != row.user_generation  # issued before a password change...
        or row.user_id != claims.user_id
        or row.patient_id != claims.patient_id  # a re-signed claim
        or not row.is_active
    ):
        raise Unauthenticated("The access token is invalid or has been revoked.")
    return Principal(user_id=row.user_id, role=Role(row.role), patient_id=row.patient_id)


def logout(*, uow: UnitOfWork, caller: Caller, clock: Clock, tokens: Tokens, token: str) -> None:
    """End the session of the token used for this request (its refresh token too)."""
    now = clock()
    claims = tokens.decode(token, now=now)
    if claims is None:
        raise Unauthenticated("The access token is invalid or has expired.")
    with uow:
        row = uow.tokens.get(secret_digest(claims.jti))
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("The access token is invalid or has been revoked.")
        row.revoked_at = now
        if row.session_id is not None:
            uow.sessions.revoke(row.session_id, now=now, reason=SessionEnd.LOGOUT)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.EXECUTE,
            subtype="logout",
            entity_type="User",
            entity_id=claims.user_id,
        )
        uow.commit()


def change_password(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    passwords: Passwords,
    tokens: Tokens,
    policy: LoginPolicy,
    current_password: str,
    new_password: str,
) -> IssuedToken:
    """Change the caller's password; every other session ends, and this device
    gets a new session (the tokens in the answer)."""
    who = caller.require()
    now = clock()
    with uow:
        user = uow.users.get(who.user_id)
    if user is None:
        raise Unauthenticated("The account no longer exists.")
    _refuse_weak_new_password(new_password, current_password=current_password, email=user.email)
    # Guessing the current password with a stolen access token is paced like a login.
    keys = login_keys(user.email, caller.source_ip)
    with uow:
        pace(uow, keys, policy, now)
    new_hash = passwords.hash(new_password)
    with uow:
        user = uow.users.get(who.user_id)
        assert user is not None
        if not passwords.verify(user.password_hash, current_password):
            _refuse_wrong_current_password(uow, caller=caller, user=user, now=now)
        user.password_hash = new_hash
        ended = end_every_session(uow, user=user, now=now, reason=SessionEnd.PASSWORD_CHANGE)
        uow.login_throttle.reset(keys.pair)
        issued = start_session(uow, tokens=tokens, policy=policy, user=user, now=now)
        _file_password_change(uow, caller=caller, user=user, now=now, ended=ended)
        uow.commit()
        return issued


def _refuse_weak_new_password(new_password: str, *, current_password: str, email: str) -> None:
    problems = password_problems(new_password, email=email)
    if new_password == current_password:
        problems.append("Must differ from the current password.")
    if problems:
        raise ValidationFailed("The password is not acceptable.", errors={"new_password": problems})


def _refuse_wrong_current_password(
    uow: UnitOfWork, *, caller: Caller, user: User, now: dt.datetime
) -> None:
    """The failure is audited (and kept: committed) before the refusal."""
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="password.change",
        entity_type="User",
        entity_id=user.id,
        outcome=AuditOutcome.MINOR_FAILURE,
        outcome_desc="incorrect current password",
    )
    uow.commit()
    raise ValidationFailed(
        "The current password is not correct.",
        errors={"current_password": ["Incorrect."]},
    )


def _file_password_change(
    uow: UnitOfWork, *, caller: Caller, user: User, now: dt.datetime, ended: int
) -> None:
    """Audited, and the owner told: a change they did not make is a taken account."""
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="password.change",
        entity_type="User",
        entity_id=user.id,
        after={"sessions_ended": ended},
    )
    tell_owner(
        uow,
        caller=caller,
        user_id=user.id,
        now=now,
        kind=NoticeKind.PASSWORD_CHANGED,
        message="Your password was changed and your other sessions were ended.",
    )


def activate(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    passwords: Passwords,
    policy: LoginPolicy,
    activation_code: str,
    password: str,
) -> Me:
    """A patient sets their password with the one-time code the clinician gave them."""
    now = clock()
    _refuse_weak_password(password)
    key = f"activate-client:{client_group(caller.source_ip)}"
    with uow:
        count_client_attempt(uow, key=key, limit=policy.client_max_failures, now=now)
    # Hashed before the transaction: Argon2 is slow and SQLite has one writer.
    password_hash = passwords.hash(password)
    with uow:
        patient = _claim_activation(uow, activation_code, now=now)
        uow.login_throttle.release(key, now=now)
        user = uow.users.get(patient.user_id)
        assert user is not None
        _refuse_weak_password(password, email=user.email)
        user.password_hash = password_hash
        join_on_activation(uow, caller=caller, patient=patient, now=now)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.UPDATE,
            subtype="activate",
            entity_type="Patient",
            entity_id=patient.id,
            patient_id=patient.id,
            actor_id=user.id,
            after={"activated_at": now},
        )
        uow.commit()
        return Me(
            id=user.id, email=user.email, name=user.name, role=user.role, patient_id=patient.id
        )


def _refuse_weak_password(password: str, *, email: str | None = None) -> None:
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationFailed("The password is not acceptable.", errors={"password": problems})


def _claim_activation(uow: UnitOfWork, code: str, *, now: dt.datetime) -> Patient:
    """The record the code activates (used up now); a code that invites an existing
    account instead says so, to its holder only: the account is theirs."""
    patient = uow.patients.claim_activation(activation_code_hash(code), now=now)
    if patient is not None:
        return patient
    if is_invitation_code(uow, code):
        raise ValidationFailed(
            "This code invites an account that already exists.",
            errors={
                "activation_code": [
                    "Sign in to your account and accept the invitation with this code."
                ]
            },
        )
    raise ValidationFailed(
        "The activation code is invalid or has expired.",
        errors={"activation_code": ["Invalid or expired; ask your clinician for a new one."]},
    )
