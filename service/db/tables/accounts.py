"""People, their care teams, and what signing in leaves behind."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    created_at: dt.datetime = utc_column()
    # Raised by a password change or reset, "log out everywhere" and deactivation:
    # every token and session carries the generation it was issued in, and only
    # the current one is honoured, so nothing issued before comes back to life.
    token_generation: int = 0


class Patient(SQLModel, table=True):
    __tablename__ = "patients"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", unique=True)
    date_of_birth: dt.date
    timezone: str = Field(max_length=64)
    allergies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    pregnant: bool = False
    # The language of the texts the patient reads (notifications, summaries, advice),
    # and whether push notifications name the drug ("discreet" never does).
    locale: str = Field(default="en", max_length=16, sa_column_kwargs={"server_default": "en"})
    notification_privacy: str = Field(
        default="discreet", max_length=16, sa_column_kwargs={"server_default": "discreet"}
    )
    # When the whole record was last screened, and with which knowledge base.
    screened_at: dt.datetime | None = utc_column(nullable=True, index=True)
    screened_with: str | None = Field(default=None, max_length=64)
    activation_code_hash: str | None = Field(default=None, max_length=64, index=True)
    activation_expires_at: dt.datetime | None = utc_column(nullable=True)
    activated_at: dt.datetime | None = utc_column(nullable=True)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = utc_column()


class CareTeamMember(SQLModel, table=True):
    """Membership rows are ended (removed_at), never deleted."""

    __tablename__ = "care_team_members"
    __table_args__ = (
        Index("ix_care_team_active", "patient_id", "clinician_id", "removed_at"),
        Index(
            "uq_care_team_active_member",
            "patient_id",
            "clinician_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patients.id", index=True)
    clinician_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    added_by: uuid.UUID = Field(foreign_key="users.id")
    added_at: dt.datetime = utc_column()
    removed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    removed_at: dt.datetime | None = utc_column(nullable=True)


class Enrolment(SQLModel, table=True):
    """A clinician's request to care for someone, by e-mail: a new account's record
    (`patient_id`, activated with the patient's own activation code) or an invitation
    to an existing account (`invited_user_id`, accepted with `code_hash`'s code by its
    holder, signed in). Either way the clinician joins the care team only when the
    person says yes, so the answer to the request never says which it was."""

    __tablename__ = "enrolments"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    clinician_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    email: str = Field(max_length=254)
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patients.id", index=True)
    invited_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    code_hash: str | None = Field(default=None, max_length=64, unique=True)
    expires_at: dt.datetime = utc_column()
    created_at: dt.datetime = utc_column()
    accepted_at: dt.datetime | None = utc_column(nullable=True)


class AuthToken(SQLModel, table=True):
    """One row per issued access token, so that a token can be revoked."""

    __tablename__ = "auth_tokens"

    # SHA-256 of the token's `jti` (security.secret_digest), not the id itself.
    jti: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    # The server's record of whose patient record the token opens; the claim
    # in the token is only a copy for clients and is never trusted.
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patients.id")
    issued_at: dt.datetime = utc_column()
    expires_at: dt.datetime = utc_column(index=True)
    revoked_at: dt.datetime | None = utc_column(nullable=True)
    session_id: uuid.UUID | None = Field(default=None, foreign_key="auth_sessions.id", index=True)
    generation: int = 0


class LoginFailure(SQLModel, table=True):
    """Failed-login counter shared by every worker (fixed window per key)."""

    __tablename__ = "login_failures"

    key: str = Field(primary_key=True, max_length=64)
    window_start: dt.datetime = utc_column()
    count: int = 0
    # Progressive delays (one account from one client): no attempt before this.
    blocked_until: dt.datetime | None = utc_column(nullable=True)


class AuthSession(SQLModel, table=True):
    """A signed-in device: the family of refresh tokens handed out since one login.

    Reusing a refresh token that was already exchanged ends the whole family
    (someone holds a copy); logging out ends it too.
    """

    __tablename__ = "auth_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    generation: int = 0
    created_at: dt.datetime = utc_column()
    refreshed_at: dt.datetime | None = utc_column(nullable=True)
    revoked_at: dt.datetime | None = utc_column(nullable=True)
    revoked_reason: str | None = Field(default=None, max_length=32)


class RefreshToken(SQLModel, table=True):
    """One refresh token of a session, stored as its SHA-256; used once, then rotated."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    session_id: uuid.UUID = Field(foreign_key="auth_sessions.id", index=True)
    issued_at: dt.datetime = utc_column()
    expires_at: dt.datetime = utc_column()
    used_at: dt.datetime | None = utc_column(nullable=True)


class PasswordReset(SQLModel, table=True):
    """A one-time password-reset code, stored as a digest; issuing a new one for the
    same user expires the earlier ones."""

    __tablename__ = "password_resets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    issued_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: dt.datetime = utc_column()
    expires_at: dt.datetime = utc_column()
    used_at: dt.datetime | None = utc_column(nullable=True)


class AccountNotice(SQLModel, table=True):
    """Something the account's owner is told about their account (GET /v1/me/notices):
    repeated failed logins, a password change or reset, a refresh token reused."""

    __tablename__ = "account_notices"
    __table_args__ = (Index("ix_account_notices_user", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id")
    kind: str = Field(max_length=32)
    message: str = Field(max_length=300)
    source: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = utc_column()
