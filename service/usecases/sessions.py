"""Sessions: a login starts one; refresh tokens rotate within it; a password change
or "log out everywhere" ends them all. Also what the account owner is told."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from service.db.tables import AccountNotice, AuthSession, AuthToken, RefreshToken, User
from service.db.uow import UnitOfWork
from service.domain.accounts import LoginBackoff, NoticeKind, Role, SessionEnd
from service.domain.audit import AuditAction, AuditOutcome
from service.domain.pages import Page
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import Unauthenticated
from service.usecases.security import Tokens, new_refresh_token, secret_digest


@dataclass(frozen=True, kw_only=True)
class LoginPolicy:
    """How failed logins are slowed down and how long sessions and reset codes last."""

    max_failures: int
    client_max_failures: int = 50
    max_delay_seconds: int = 900
    refresh_ttl: dt.timedelta = field(default=dt.timedelta(days=30))
    reset_ttl: dt.timedelta = field(default=dt.timedelta(hours=24))

    @property
    def backoff(self) -> LoginBackoff:
        return LoginBackoff(free=self.max_failures, max_seconds=self.max_delay_seconds)


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


@dataclass(frozen=True, kw_only=True)
class Notice:
    """Something the account's owner was told about their account."""

    id: int
    kind: str
    message: str
    source: str | None
    created_at: dt.datetime


def start_session(
    uow: UnitOfWork, *, tokens: Tokens, policy: LoginPolicy, user: User, now: dt.datetime
) -> IssuedToken:
    """A new session for the user (a login, a password change): tokens of the
    user's current generation."""
    session = uow.sessions.add(
        AuthSession(user_id=user.id, generation=user.token_generation, created_at=now)
    )
    return issue_tokens(uow, tokens=tokens, policy=policy, user=user, session=session, now=now)


def issue_tokens(
    uow: UnitOfWork,
    *,
    tokens: Tokens,
    policy: LoginPolicy,
    user: User,
    session: AuthSession,
    now: dt.datetime,
) -> IssuedToken:
    """An access token and the session's next refresh token (both stored as digests)."""
    role = Role(user.role)
    patient = uow.patients.by_user(user.id) if role is Role.PATIENT else None
    encoded, jti, expires = tokens.issue(
        user_id=user.id, role=role, patient_id=patient.id if patient else None, now=now
    )
    uow.tokens.add(
        AuthToken(
            jti=secret_digest(jti),
            user_id=user.id,
            patient_id=patient.id if patient else None,
            issued_at=now,
            expires_at=expires,
            session_id=session.id,
            generation=session.generation,
        )
    )
    refresh = new_refresh_token()
    uow.sessions.add_refresh_token(
        RefreshToken(
            token_hash=secret_digest(refresh),
            session_id=session.id,
            issued_at=now,
            expires_at=now + policy.refresh_ttl,
        )
    )
    return IssuedToken(
        access_token=encoded,
        token_type="Bearer",  # noqa: S106
        expires_in=tokens.ttl_seconds,
        refresh_token=refresh,
        refresh_expires_in=int(policy.refresh_ttl.total_seconds()),
    )


def end_every_session(uow: UnitOfWork, *, user: User, now: dt.datetime, reason: str) -> int:
    """Nothing issued to the user so far works any more: the generation moves on
    (so a token or session revived later is still refused) and every session ends."""
    user.token_generation += 1
    return uow.sessions.revoke_all(user.id, now=now, reason=reason)


def tell_owner(
    uow: UnitOfWork,
    *,
    caller: Caller,
    user_id: uuid.UUID,
    now: dt.datetime,
    kind: str,
    message: str,
) -> None:
    """A notice the owner reads at GET /v1/me/notices (the client address it is about)."""
    uow.sessions.add_notice(
        AccountNotice(
            user_id=user_id, kind=kind, message=message, source=caller.source_ip, created_at=now
        )
    )


_REUSED = "This refresh token was already used, so the session it belongs to has been ended."
_INVALID = "The refresh token is invalid, expired or revoked; log in again."


def refresh(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    tokens: Tokens,
    policy: LoginPolicy,
    refresh_token: str,
) -> IssuedToken:
    """Exchange a refresh token for a new access token and a new refresh token.

    A refresh token works once. Seeing one again means that two parties hold it
    (the device and a thief): the whole session ends, and its owner is told.
    """
    now = clock()
    with uow:
        row = uow.sessions.claim_refresh_token(secret_digest(refresh_token))
        session = uow.sessions.get(row.session_id) if row is not None else None
        user = uow.users.get(session.user_id) if session is not None else None
        if row is None or session is None or user is None:
            raise Unauthenticated(_INVALID, errors={"refresh_token": ["Unknown."]})
        if row.used_at is not None:
            if session.revoked_at is None:
                _end_reused(uow, caller=caller, session=session, now=now)
                uow.commit()
            raise Unauthenticated(_REUSED, errors={"refresh_token": ["Already used."]})
        if (
            session.revoked_at is not None
            or row.expires_at <= now
            or not user.is_active
            or session.generation != user.token_generation
        ):
            raise Unauthenticated(_INVALID, errors={"refresh_token": ["Expired or revoked."]})
        row.used_at = now
        session.refreshed_at = now
        issued = issue_tokens(
            uow, tokens=tokens, policy=policy, user=user, session=session, now=now
        )
        uow.commit()
        return issued


def _end_reused(uow: UnitOfWork, *, caller: Caller, session: AuthSession, now: dt.datetime) -> None:
    uow.sessions.revoke(session.id, now=now, reason=SessionEnd.REFRESH_REUSE)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.EXECUTE,
        subtype="refresh.reuse",
        entity_type="User",
        entity_id=session.user_id,
        actor_id=session.user_id,
        outcome=AuditOutcome.SERIOUS_FAILURE,
        outcome_desc="a rotated refresh token was presented again; its session was ended",
    )
    tell_owner(
        uow,
        caller=caller,
        user_id=session.user_id,
        now=now,
        kind=NoticeKind.REFRESH_REUSE,
        message=(
            "A sign-in of yours was used from two places, so it was ended. "
            "If this was not you, change your password."
        ),
    )


def logout_all(*, uow: UnitOfWork, caller: Caller, clock: Clock) -> None:
    """End every session of the caller, this one included."""
    who = caller.require()
    now = clock()
    with uow:
        user = uow.users.get(who.user_id)
        if user is None:
            raise Unauthenticated("The account no longer exists.")
        ended = end_every_session(uow, user=user, now=now, reason=SessionEnd.LOGOUT_ALL)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.EXECUTE,
            subtype="logout-all",
            entity_type="User",
            entity_id=user.id,
            after={"sessions_ended": ended},
        )
        uow.commit()


def list_notices(*, uow: UnitOfWork, caller: Caller, limit: int, offset: int) -> Page[Notice]:
    """What the caller has been told about their account, newest first."""
    who = caller.require()
    with uow:
        return uow.sessions.notices(who.user_id, limit=limit, offset=offset).map(_notice)


def _notice(row: AccountNotice) -> Notice:
    assert row.id is not None  # read back from the table, so stored
    return Notice(
        id=row.id, kind=row.kind, message=row.message, source=row.source, created_at=row.created_at
    )
