"""Sessions (refresh-token families), password resets and account notices."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import update
from sqlmodel import Session, col, select

from service.db.engine import begin_writing
from service.db.paging import count_rows
from service.db.tables import AccountNotice, AuthSession, AuthToken, PasswordReset, RefreshToken
from service.domain.pages import Page


class SessionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, auth_session: AuthSession) -> AuthSession:
        self._s.add(auth_session)
        self._s.flush()
        return auth_session

    def get(self, session_id: uuid.UUID) -> AuthSession | None:
        return self._s.get(AuthSession, session_id)

    def add_refresh_token(self, token: RefreshToken) -> None:
        self._s.add(token)
        self._s.flush()

    def claim_refresh_token(self, token_hash: str) -> RefreshToken | None:
        """The refresh token, locked for this transaction: of two requests with the
        same token, the second sees that the first used it."""
        begin_writing(self._s)
        query = (
            select(RefreshToken)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self._s.exec(query).first()

    def revoke(self, session_id: uuid.UUID, *, now: dt.datetime, reason: str) -> None:
        """End one session and every access token issued in it."""
        self._s.execute(
            update(AuthSession)
            .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        self._s.execute(
            update(AuthToken)
            .where(col(AuthToken.session_id) == session_id, col(AuthToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )

    def revoke_all(self, user_id: uuid.UUID, *, now: dt.datetime, reason: str) -> int:
        """End every session of the user and their access tokens; how many sessions."""
        ended = self._s.execute(
            update(AuthSession)
            .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        self._s.execute(
            update(AuthToken)
            .where(col(AuthToken.user_id) == user_id, col(AuthToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        return int(ended.rowcount)  # type: ignore[attr-defined]

    def add_reset(
        self,
        *,
        user_id: uuid.UUID,
        code_hash: str,
        issued_by: uuid.UUID,
        now: dt.datetime,
        expires_at: dt.datetime,
    ) -> None:
        """Store a new reset code; the user's earlier unused codes expire now."""
        self._s.execute(
            update(PasswordReset)
            .where(
                col(PasswordReset.user_id) == user_id,
                col(PasswordReset.used_at).is_(None),
                col(PasswordReset.expires_at) > now,
            )
            .values(expires_at=now)
        )
        reset = PasswordReset(
            user_id=user_id,
            code_hash=code_hash,
            issued_by=issued_by,
            created_at=now,
            expires_at=expires_at,
        )
        self._s.add(reset)
        self._s.flush()

    def claim_reset(self, code_hash: str, *, now: dt.datetime) -> uuid.UUID | None:
        """Use an unexpired, unused code (one statement, so only one request can);
        the user it resets, or None."""
        used = self._s.execute(
            update(PasswordReset)
            .where(
                col(PasswordReset.code_hash) == code_hash,
                col(PasswordReset.used_at).is_(None),
                col(PasswordReset.expires_at) > now,
            )
            .values(used_at=now)
            .returning(col(PasswordReset.user_id))
        ).first()
        return used[0] if used is not None else None

    def add_notice(self, notice: AccountNotice) -> None:
        self._s.add(notice)
        self._s.flush()

    def notices(self, user_id: uuid.UUID, *, limit: int, offset: int) -> Page[AccountNotice]:
        query = (
            select(AccountNotice)
            .where(AccountNotice.user_id == user_id)
            .order_by(col(AccountNotice.created_at).desc(), col(AccountNotice.id).desc())
        )
        rows = list(self._s.exec(query.limit(limit).offset(offset)))
        return Page(rows, total=count_rows(self._s, query))
