"""Planned and logged doses, the outbox of messages about them, and the devices they go to."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.tables.columns import status_in, utc_column
from service.domain.messages import IN_FLIGHT


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
    scheduled_at: dt.datetime = utc_column()
    # The patient's zone and the wall time the dose was planned for.
    timezone: str = Field(max_length=64)
    slot: str | None = Field(default=None, max_length=5)
    drug: str = Field(max_length=200)
    dose_amount: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    dose_unit: str = Field(max_length=16)
    withdrawal_risk: bool = False
    prn: bool = False
    status: str = Field(max_length=16)
    taken_at: dt.datetime | None = utc_column(nullable=True)
    skip_reason: str | None = Field(default=None, max_length=500)
    logged_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    logged_at: dt.datetime | None = utc_column(nullable=True)
    snoozed_until: dt.datetime | None = utc_column(nullable=True)
    snoozes: int = 0
    care_team_notified_at: dt.datetime | None = utc_column(nullable=True)
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


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
            sqlite_where=status_in(IN_FLIGHT),
            postgresql_where=status_in(IN_FLIGHT),
        ),
        Index("ix_notifications_dose_event", "dose_event_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=160, unique=True)
    kind: str = Field(max_length=32)
    recipient_id: uuid.UUID = Field(foreign_key="users.id")
    patient_id: uuid.UUID = Field(foreign_key="patients.id")
    dose_event_id: uuid.UUID | None = Field(default=None, foreign_key="dose_events.id")
    due_at: dt.datetime = utc_column()
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime = utc_column()
    claimed_by: str | None = Field(default=None, max_length=64)
    # A fresh value per claim: settling requires it, so a dispatcher whose lease ran
    # out and whose row was claimed again (by any worker) can no longer settle it.
    claim_token: str | None = Field(default=None, max_length=32)
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: dt.datetime | None = utc_column(nullable=True)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


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
    created_at: dt.datetime = utc_column()
    removed_at: dt.datetime | None = utc_column(nullable=True)
    removed_reason: str | None = Field(default=None, max_length=64)
