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


def _count_attempt(uow: UnitOfWork, keys: list[tuple[str, int]], now: dt.datetime) -> None:
    """Count this attempt against every key and make the count visible at once.

    Committed before the (slow) password check, so that parallel guesses see
    each other; over the limit on any key answers 429.
    """
    wait = 0
    for key, limit in keys:
        count, remaining = uow.login_throttle.attempt(key, now=now)
        if count > limit:
            wait = max(wait, remaining)
    uow.commit()
    if wait:
        raise RateLimited("Too many login attempts; try again later.", retry_after=wait)


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
    """Exchange e-mail and password for a bearer token; attempts are counted and audited."""
    now = clock()
    email = email.strip().lower()
    keys = _throttle_keys(email, caller.source_ip, policy)
    with uow:
        _count_attempt(uow, keys, now)
    with uow:
        user = uow.users.by_email(email)
        stored = user.password_hash if user is not None and user.is_active else None
        if not passwords.verify(stored, password) or user is None:
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
            uow.commit()
            raise Unauthenticated("Incorrect email or password.")
        if passwords.needs_rehash(stored or ""):
            user.password_hash = passwords.hash(password)
            uow.session.add(user)
        uow.login_throttle.reset(keys[0][0])
        for key, _ in keys[1:]:
            uow.login_throttle.release(key, now=now)
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
    uow.tokens.add(
        AuthToken(
            jti=jti,
            user_id=user.id,
            patient_id=patient.id if patient else None,
            issued_at=now,
            expires_at=expires,
        )
    )
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
    # One statement, so no transaction: no BEGIN and ROLLBACK round trips.
    with uow.read_only() as reading:
        row = reading.tokens.holder(claims.jti)
    if (
        row is None
        or row.revoked_at is not None
        or row.user_id != claims.user_id
        or row.patient_id != claims.patient_id  # a re-signed claim
        or not row.is_active
    ):
        raise Unauthenticated("The access token is invalid or has been revoked.")
    return Principal(user_id=row.user_id, role=Role(row.role), patient_id=row.patient_id)


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
    keys = [(key, policy.max_failures * IP_LIMIT_FACTOR)]
    with uow:
        _count_attempt(uow, keys, now)
    # Hashed before the transaction: Argon2 is slow and SQLite has one writer.
    password_hash = passwords.hash(password)
    with uow:
        patient = uow.patients.claim_activation(activation_code_hash(activation_code), now=now)
        if patient is None:
            raise ValidationFailed(
                "The activation code is invalid or has expired.",
                errors={
                    "activation_code": ["Invalid or expired; ask your clinician for a new one."]
                },
            )
        uow.login_throttle.release(key, now=now)
        user = uow.users.get(patient.user_id)
        assert user is not None
        user.password_hash = password_hash
        uow.session.add(user)
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
