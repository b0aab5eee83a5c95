"""Logging in and out, activating a patient account, and checking tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.db.tables import AuthToken, User
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role
from service.domain.audit import AuditAction, AuditOutcome
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import RateLimited, Unauthenticated, ValidationFailed
from service.usecases.security import (
    Passwords,
    Tokens,
    activation_code_hash,
    password_problems,
)
from service.usecases.users import Me

# A whole address space behind one IP gets more room than one account, so that
# a clinic's shared NAT is not locked out by one user's typos.
IP_LIMIT_FACTOR = 10


@dataclass(frozen=True, kw_only=True)
class LoginPolicy:
    max_failures: int


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_in: int


def _throttle_keys(email: str, source_ip: str | None, policy: LoginPolicy) -> list[tuple[str, int]]:
    keys = [(f"login-email:{email}", policy.max_failures)]
    if source_ip:
        keys.append((f"login-ip:{source_ip}", policy.max_failures * IP_LIMIT_FACTOR))
    return keys


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
    """Exchange e-mail and password for a bearer token; failures are counted and audited."""
    now = clock()
    email = email.strip().lower()
    keys = _throttle_keys(email, caller.source_ip, policy)
    with uow:
        for key, limit in keys:
            wait = uow.login_throttle.retry_after(key, now=now, limit=limit)
            if wait is not None:
                raise RateLimited("Too many failed logins; try again later.", retry_after=wait)
        user = uow.users.by_email(email)
        stored = user.password_hash if user is not None and user.is_active else None
        if not passwords.verify(stored, password) or user is None:
            for key, _ in keys:
                uow.login_throttle.record_failure(key, now=now)
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.EXECUTE,
                subtype="login",
                entity_type="User",
                entity_id=user.id if user else None,
                outcome=AuditOutcome.MINOR_FAILURE,
                actor_id=user.id if user else None,
            )
            uow.commit()
            raise Unauthenticated("Incorrect email or password.")
        if passwords.needs_rehash(stored or ""):
            user.password_hash = passwords.hash(password)
            uow.session.add(user)
        uow.login_throttle.reset(keys[0][0])
        token = _issue(uow, tokens=tokens, user=user, now=now)
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


def _issue(uow: UnitOfWork, *, tokens: Tokens, user: User, now: dt.datetime) -> IssuedToken:
    role = Role(user.role)
    patient = uow.patients.by_user(user.id) if role is Role.PATIENT else None
    encoded, jti, expires = tokens.issue(
        user_id=user.id, role=role, patient_id=patient.id if patient else None, now=now
    )
    uow.tokens.add(AuthToken(jti=jti, user_id=user.id, issued_at=now, expires_at=expires))
    return IssuedToken(
        access_token=encoded,
        token_type="Bearer",  # noqa: S106
        expires_in=tokens.ttl_seconds,
    )


def authenticate(*, uow: UnitOfWork, clock: Clock, tokens: Tokens, token: str) -> Principal:
    """The principal behind a bearer token that is well signed, unexpired and not revoked."""
    now = clock()
    claims = tokens.decode(token, now=now)
    if claims is None:
        raise Unauthenticated("The access token is invalid or has expired.")
    with uow:
        row = uow.tokens.get(claims.jti)
        user = uow.users.get(claims.user_id)
        if (
            row is None
            or row.revoked_at is not None
            or row.user_id != claims.user_id
            or user is None
            or not user.is_active
        ):
            raise Unauthenticated("The access token is invalid or has been revoked.")
        return Principal(user_id=user.id, role=Role(user.role), patient_id=claims.patient_id)


def logout(*, uow: UnitOfWork, caller: Caller, clock: Clock, tokens: Tokens, token: str) -> None:
    """Revoke the token used for this request."""
    now = clock()
    claims = tokens.decode(token, now=now)
    if claims is None:
        raise Unauthenticated("The access token is invalid or has expired.")
    with uow:
        row = uow.tokens.get(claims.jti)
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("The access token is invalid or has been revoked.")
        row.revoked_at = now
        uow.session.add(row)
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
    problems = password_problems(password)
    if problems:
        raise ValidationFailed("The password is not acceptable.", errors={"password": problems})
    key = f"activate-ip:{caller.source_ip}"
    limit = policy.max_failures * IP_LIMIT_FACTOR
    with uow:
        wait = uow.login_throttle.retry_after(key, now=now, limit=limit)
        if wait is not None:
            raise RateLimited("Too many failed activations; try again later.", retry_after=wait)
        patient = uow.patients.by_activation_hash(activation_code_hash(activation_code))
        expires = patient.activation_expires_at if patient is not None else None
        if patient is None or expires is None or expires <= now:
            uow.login_throttle.record_failure(key, now=now)
            uow.commit()
            raise ValidationFailed(
                "The activation code is invalid or has expired.",
                errors={
                    "activation_code": ["Invalid or expired; ask your clinician for a new one."]
                },
            )
        user = uow.users.get(patient.user_id)
        assert user is not None
        user.password_hash = passwords.hash(password)
        patient.activation_code_hash = None
        patient.activation_expires_at = None
        patient.activated_at = now
        uow.session.add_all([user, patient])
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
