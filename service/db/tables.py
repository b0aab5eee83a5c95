"""SQLModel tables. The schema is created only by the Alembic migrations."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint, text
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel

from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule, plain_amount


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC instants on every engine (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    created_at: dt.datetime = _utc_column()
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
    # When the whole record was last screened, and with which knowledge base.
    screened_at: dt.datetime | None = _utc_column(nullable=True, index=True)
    screened_with: str | None = Field(default=None, max_length=64)
    activation_code_hash: str | None = Field(default=None, max_length=64, index=True)
    activation_expires_at: dt.datetime | None = _utc_column(nullable=True)
    activated_at: dt.datetime | None = _utc_column(nullable=True)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = _utc_column()


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
    added_at: dt.datetime = _utc_column()
    removed_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    removed_at: dt.datetime | None = _utc_column(nullable=True)


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
    expires_at: dt.datetime = _utc_column()
    created_at: dt.datetime = _utc_column()
    accepted_at: dt.datetime | None = _utc_column(nullable=True)


class AuthToken(SQLModel, table=True):
    """One row per issued access token, so that a token can be revoked."""

    __tablename__ = "auth_tokens"

    # SHA-256 of the token's `jti` (security.secret_digest), not the id itself.
    jti: str = Field(primary_key=True, max_length=64)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    # The server's record of whose patient record the token opens; the claim
    # in the token is only a copy for clients and is never trusted.
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patients.id")
    issued_at: dt.datetime = _utc_column()
    expires_at: dt.datetime = _utc_column(index=True)
    revoked_at: dt.datetime | None = _utc_column(nullable=True)
    session_id: uuid.UUID | None = Field(default=None, foreign_key="auth_sessions.id", index=True)
    generation: int = 0


class LoginFailure(SQLModel, table=True):
    """Failed-login counter shared by every worker (fixed window per key)."""

    __tablename__ = "login_failures"

    key: str = Field(primary_key=True, max_length=64)
    window_start: dt.datetime = _utc_column()
    count: int = 0
    # Progressive delays (one account from one client): no attempt before this.
    blocked_until: dt.datetime | None = _utc_column(nullable=True)


class AuthSession(SQLModel, table=True):
    """A signed-in device: the family of refresh tokens handed out since one login.

    Reusing a refresh token that was already exchanged ends the whole family
    (someone holds a copy); logging out ends it too.
    """

    __tablename__ = "auth_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    generation: int = 0
    created_at: dt.datetime = _utc_column()
    refreshed_at: dt.datetime | None = _utc_column(nullable=True)
    revoked_at: dt.datetime | None = _utc_column(nullable=True)
    revoked_reason: str | None = Field(default=None, max_length=32)


class RefreshToken(SQLModel, table=True):
    """One refresh token of a session, stored as its SHA-256; used once, then rotated."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    session_id: uuid.UUID = Field(foreign_key="auth_sessions.id", index=True)
    issued_at: dt.datetime = _utc_column()
    expires_at: dt.datetime = _utc_column()
    used_at: dt.datetime | None = _utc_column(nullable=True)


class PasswordReset(SQLModel, table=True):
    """A one-time password-reset code, stored as a digest; issuing a new one for the
    same user expires the earlier ones."""

    __tablename__ = "password_resets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    issued_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_at: dt.datetime = _utc_column()
    expires_at: dt.datetime = _utc_column()
    used_at: dt.datetime | None = _utc_column(nullable=True)


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
    created_at: dt.datetime = _utc_column()


class Prescription(SQLModel, table=True):
    """The stable identity of a prescription; its terms live in versions."""

    __tablename__ = "prescriptions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patients.id", index=True)
    current_version: int = 1
    status: str = Field(max_length=16, index=True)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = _utc_column()
    updated_at: dt.datetime = _utc_column()
    # Dose planning: doses are planned up to `planned_until`, and never before
    # `plan_from` (set when a new time zone re-plans, so the past is not re-planned).
    planned_until: dt.datetime | None = _utc_column(nullable=True)
    plan_from: dt.datetime | None = _utc_column(nullable=True)


class PrescriptionVersion(SQLModel, table=True):
    """Immutable: each change to a prescription adds the next version."""

    __tablename__ = "prescription_versions"
    __table_args__ = (UniqueConstraint("prescription_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    prescription_id: uuid.UUID = Field(foreign_key="prescriptions.id", index=True)
    version: int
    drug: str = Field(max_length=200)
    # The catalog entry the drug resolved to (null for a confirmed unlisted drug)
    # and its ingredients, which interaction checks use.
    drug_id: str | None = Field(default=None, max_length=200)
    ingredients: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    dose_amount: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    dose_unit: str = Field(max_length=16)
    route: str = Field(max_length=32)
    schedule: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    start_date: dt.date
    end_date: dt.date | None = None
    instructions: str | None = Field(default=None, max_length=2000)
    status: str = Field(max_length=16)
    change: str = Field(max_length=32)
    reason: str | None = Field(default=None, max_length=2000)
    # Why a withdrawal-risk drug was stopped or cut without a taper (the guard's override).
    abrupt_stop_reason: str | None = Field(default=None, max_length=2000)
    # A pause's planned end: the scheduler resumes the prescription on this local date.
    resume_on: dt.date | None = None
    # The catalog's generic name of what `drug` (the text as entered) resolved to.
    drug_name: str | None = Field(default=None, max_length=200)
    # "full", or "partial" for a confirmed unlisted drug (some checks could not run).
    screening: str = Field(default="full", max_length=16)
    unlisted_reason: str | None = Field(default=None, max_length=2000)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = _utc_column()

    def terms(self) -> PrescriptionTerms:
        """The terms this version holds."""
        return PrescriptionTerms(
            drug=self.drug,
            dose=Dose(amount=plain_amount(Decimal(self.dose_amount)), unit=self.dose_unit),
            route=self.route,
            schedule=Schedule.from_json(self.schedule),
            start_date=self.start_date,
            end_date=self.end_date,
            instructions=self.instructions,
        )


class PrescriptionFinding(SQLModel, table=True):
    """An interaction finding raised when the prescription was written, and how the
    prescriber answered it. Append-only, like the versions."""

    __tablename__ = "prescription_findings"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    prescription_id: uuid.UUID = Field(foreign_key="prescriptions.id", index=True)
    finding_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    resolution: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=2000)
    knowledge_base_version: str = Field(max_length=64)
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = _utc_column()


class PatientCondition(SQLModel, table=True):
    """A coded condition the care team recorded; ended (never deleted) when it no longer
    applies, and recorded anew when its Child-Pugh class or eGFR changes."""

    __tablename__ = "patient_conditions"
    __table_args__ = (Index("ix_patient_conditions_patient", "patient_id", "ended_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    code: str = Field(max_length=32)
    child_pugh: str | None = Field(default=None, max_length=1)
    egfr: Decimal | None = Field(default=None, sa_column=Column(Numeric(6, 1), nullable=True))
    note: str | None = Field(default=None, max_length=500)
    recorded_by: uuid.UUID = Field(foreign_key="users.id")
    recorded_at: dt.datetime = _utc_column()
    ended_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    ended_at: dt.datetime | None = _utc_column(nullable=True)
    ended_reason: str | None = Field(default=None, max_length=500)


class ReportedProduct(SQLModel, table=True):
    """Something the patient takes without a prescription (an over-the-counter drug, a
    herbal or dietary supplement, alcohol), resolved through the catalog like a
    prescription; ended, never deleted."""

    __tablename__ = "reported_products"
    __table_args__ = (Index("ix_reported_products_patient", "patient_id", "ended_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    text: str = Field(max_length=200)
    drug_id: str | None = Field(default=None, max_length=200)
    drug_name: str | None = Field(default=None, max_length=200)
    ingredients: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    how_often: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500)
    reported_by: uuid.UUID = Field(foreign_key="users.id")
    reported_at: dt.datetime = _utc_column()
    ended_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    ended_at: dt.datetime | None = _utc_column(nullable=True)


class PatientFinding(SQLModel, table=True):
    """A finding of the latest screening of the patient's whole record. It stays open
    while a re-screening still finds it; `resolved_at` is set when one no longer does.
    Acknowledgement (who, when, why) is recorded on the row and audited."""

    __tablename__ = "patient_findings"
    __table_args__ = (
        Index("ix_patient_findings_open", "patient_id", "resolved_at"),
        Index(
            "uq_patient_findings_open",
            "patient_id",
            "finding_id",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    finding_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    knowledge_base_version: str = Field(max_length=64)
    cause: str = Field(max_length=64)
    found_at: dt.datetime = _utc_column()
    resolved_at: dt.datetime | None = _utc_column(nullable=True)
    acknowledged_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    acknowledged_at: dt.datetime | None = _utc_column(nullable=True)
    acknowledged_reason: str | None = Field(default=None, max_length=2000)
    care_team_notified_at: dt.datetime | None = _utc_column(nullable=True)


class InteractionImport(SQLModel, table=True):
    """One run of an importer; the knowledge-base version counts these."""

    __tablename__ = "interaction_imports"

    id: int | None = Field(default=None, primary_key=True)
    format: str = Field(max_length=16)
    files: list[str] = Field(sa_column=Column(JSON, nullable=False))
    rows_read: int
    pairs_stored: int
    unknown_level: int
    unresolved_names: int
    rejected_rows: int
    created_at: dt.datetime = _utc_column()


class ImportedInteraction(SQLModel, table=True):
    """A drug pair from a licensed external dataset (DDInter, generic CSV).

    `drug_a` < `drug_b` are ingredient keys: a catalog id, or "x:" and the
    normalised name for a drug the catalog does not list.
    """

    __tablename__ = "imported_interactions"
    __table_args__ = (
        UniqueConstraint("dataset", "drug_a", "drug_b"),
        Index("ix_imported_pair", "drug_a", "drug_b"),
        Index("ix_imported_drug_b", "drug_b"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(max_length=16)
    drug_a: str = Field(max_length=200)
    drug_b: str = Field(max_length=200)
    name_a: str = Field(max_length=200)
    name_b: str = Field(max_length=200)
    severity: str = Field(max_length=16)
    mechanism: str | None = Field(default=None, max_length=4000)
    management: str | None = Field(default=None, max_length=4000)
    source: str | None = Field(default=None, max_length=500)
    import_id: int = Field(foreign_key="interaction_imports.id")


class DoseEvent(SQLModel, table=True):
    """One planned (or, for as-needed drugs, logged) administration.

    Materialised from the prescription's schedule for a rolling horizon; the id is
    derived from (prescription, instant), so planning the same dose twice finds the
    same row. Superseded future doses are `cancelled`, never deleted.
    """

    __tablename__ = "dose_events"
    __table_args__ = (
        UniqueConstraint("prescription_id", "scheduled_at", name="uq_dose_events_rx_instant"),
        Index("ix_dose_events_patient_time", "patient_id", "scheduled_at"),
        Index("ix_dose_events_status_time", "status", "scheduled_at"),
    )

    id: uuid.UUID = Field(primary_key=True)
    prescription_id: uuid.UUID = Field(foreign_key="prescriptions.id")
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    # The prescription version whose terms planned this dose.
    version: int
    scheduled_at: dt.datetime = _utc_column()
    # The patient's zone and the wall time the dose was planned for.
    timezone: str = Field(max_length=64)
    slot: str | None = Field(default=None, max_length=5)
    drug: str = Field(max_length=200)
    dose_amount: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    dose_unit: str = Field(max_length=16)
    withdrawal_risk: bool = False
    prn: bool = False
    status: str = Field(max_length=16)
    taken_at: dt.datetime | None = _utc_column(nullable=True)
    skip_reason: str | None = Field(default=None, max_length=500)
    logged_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    logged_at: dt.datetime | None = _utc_column(nullable=True)
    snoozed_until: dt.datetime | None = _utc_column(nullable=True)
    snoozes: int = 0
    care_team_notified_at: dt.datetime | None = _utc_column(nullable=True)
    created_at: dt.datetime = _utc_column()
    updated_at: dt.datetime = _utc_column()


class Notification(SQLModel, table=True):
    """The outbox: one row per message to send, claimed by the dispatcher.

    `idempotency_key` is unique per dose event and kind, and is sent with the
    message so receivers can drop a repeat. `next_attempt_at` is when the row may
    next be claimed: the due time, a retry's backoff, or a claim's lease expiry.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        # Only the rows a dispatcher may claim, in the order it claims them: the
        # index stays small however much history the outbox keeps.
        Index(
            "ix_notifications_claimable",
            "next_attempt_at",
            sqlite_where=text("status IN ('pending', 'claimed')"),
            postgresql_where=text("status IN ('pending', 'claimed')"),
        ),
        Index("ix_notifications_dose_event", "dose_event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=160, unique=True)
    kind: str = Field(max_length=32)
    recipient_id: uuid.UUID = Field(foreign_key="users.id")
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    dose_event_id: uuid.UUID | None = Field(default=None, foreign_key="dose_events.id")
    due_at: dt.datetime = _utc_column()
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime = _utc_column()
    claimed_by: str | None = Field(default=None, max_length=64)
    # A fresh value per claim: settling requires it, so a dispatcher whose lease ran
    # out and whose row was claimed again (by any worker) can no longer settle it.
    claim_token: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: dt.datetime | None = _utc_column(nullable=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = _utc_column()
    updated_at: dt.datetime = _utc_column()


class Device(SQLModel, table=True):
    """A device a user registered for reminders; removal ends it (removed_at)."""

    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_user_active", "user_id", "removed_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id")
    platform: str = Field(max_length=16)
    endpoint: str | None = Field(default=None, max_length=2048)
    token: str | None = Field(default=None, max_length=4096)
    keys: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    label: str | None = Field(default=None, max_length=100)
    created_at: dt.datetime = _utc_column()
    removed_at: dt.datetime | None = _utc_column(nullable=True)
    removed_reason: str | None = Field(default=None, max_length=64)


class TaperPlan(SQLModel, table=True):
    """A taper of one prescription; its steps live in versions, which are kept."""

    __tablename__ = "taper_plans"
    __table_args__ = (
        # One plan in progress per prescription (drafts included).
        Index(
            "uq_taper_plans_open",
            "prescription_id",
            unique=True,
            sqlite_where=text("status IN ('draft', 'approved', 'active', 'paused')"),
            postgresql_where=text("status IN ('draft', 'approved', 'active', 'paused')"),
        ),
        Index("ix_taper_plans_patient", "patient_id"),
        Index("ix_taper_plans_next_step_at", "next_step_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    prescription_id: uuid.UUID = Field(foreign_key="prescriptions.id")
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    drug: str = Field(max_length=200)
    status: str = Field(max_length=16)
    current_version: int = 1
    paused_at: dt.datetime | None = _utc_column(nullable=True)
    # When the scheduler next has a step to start (None unless approved or active).
    next_step_at: dt.datetime | None = _utc_column(nullable=True)
    # The clinician whose approval the scheduler acts on.
    approved_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = _utc_column()
    updated_at: dt.datetime = _utc_column()


class TaperPlanVersion(SQLModel, table=True):
    """Immutable: each change to a plan (approval, pause, extension...) adds one."""

    __tablename__ = "taper_plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="taper_plans.id", index=True)
    version: int
    change: str = Field(max_length=32)
    status: str = Field(max_length=16)
    settings: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    plan: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    approved_steps: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str | None = Field(default=None, max_length=2000)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = _utc_column()


class TaperStepRecord(SQLModel, table=True):
    """A step the scheduler started: at most one per plan and step (append-only)."""

    __tablename__ = "taper_step_records"
    __table_args__ = (UniqueConstraint("plan_id", "step_index", name="uq_taper_step_records_step"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="taper_plans.id")
    step_index: int
    plan_version: int
    prescription_id: uuid.UUID = Field(foreign_key="prescriptions.id")
    # The prescription version that carries the step's dose.
    prescription_version: int
    daily_dose_mg: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    start_date: dt.date
    due_at: dt.datetime = _utc_column()
    recorded_at: dt.datetime = _utc_column()


class TaperSymptomReport(SQLModel, table=True):
    """A withdrawal self-report during a taper (append-only)."""

    __tablename__ = "taper_symptom_reports"
    __table_args__ = (Index("ix_taper_symptom_reports_plan", "plan_id", "reported_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="taper_plans.id")
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    step_index: int
    scale: str = Field(max_length=64)
    items: dict[str, int] = Field(sa_column=Column(JSON, nullable=False))
    total: int
    threshold: int
    hold_proposed: bool
    note: str | None = Field(default=None, max_length=2000)
    reported_by: uuid.UUID = Field(foreign_key="users.id")
    reported_at: dt.datetime = _utc_column()


class AuditEvent(SQLModel, table=True):
    """Append-only audit trail shaped like FHIR AuditEvent.

    Database triggers (see the migrations) refuse UPDATE and DELETE.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_patient_recorded", "patient_id", "recorded"),
        # One entry per place in a chain: two writers can never fork a chain.
        Index("ux_audit_chain_seq", "chain_key", "chain_seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    recorded: dt.datetime = _utc_column()
    action: str = Field(max_length=1)
    subtype: str = Field(max_length=64)
    outcome: str = Field(max_length=2)
    outcome_desc: str | None = Field(default=None, max_length=300)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    actor_role: str | None = Field(default=None, max_length=16)
    entity_type: str = Field(max_length=32)
    entity_id: str | None = Field(default=None, max_length=64)
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patients.id")
    # The server's id for the request, and the one the client sent (X-Request-ID),
    # kept apart so that no client can make its request look like another's.
    request_id: str | None = Field(default=None, max_length=64)
    client_request_id: str | None = Field(default=None, max_length=64)
    source_ip: str | None = Field(default=None, max_length=64)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The entry's place in its hash chain (service.domain.audit_chain).
    chain_key: str | None = Field(default=None, max_length=40)
    chain_seq: int | None = None
    prev_hash: str | None = Field(default=None, max_length=64)
    entry_hash: str | None = Field(default=None, max_length=64)


class AuditAnchor(SQLModel, table=True):
    """The heads of the audit chains that moved since the anchor before, written
    down every few minutes (and logged), so that a chain rewritten from some entry
    to its end no longer matches. Append-only."""

    __tablename__ = "audit_anchors"

    id: int | None = Field(default=None, primary_key=True)
    anchored_at: dt.datetime = _utc_column()
    last_event_id: int
    heads: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    prev_digest: str = Field(max_length=64)
    digest: str = Field(max_length=64)
