"""Taper plans, their versions, the steps started and the symptoms reported."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.tables.columns import status_in, utc_column
from service.domain.taper.status import OPEN


class TaperPlan(SQLModel, table=True):
    """A taper of one prescription; its steps live in versions, which are kept."""

    __tablename__ = "taper_plans"
    __table_args__ = (
        # One plan in progress per prescription (drafts included).
        Index(
            "uq_taper_plans_open",
            "prescription_id",
            unique=True,
            sqlite_where=status_in(OPEN),
            postgresql_where=status_in(OPEN),
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
    paused_at: dt.datetime | None = utc_column(nullable=True)
    # When the scheduler next has a step to start (None unless approved or active).
    next_step_at: dt.datetime | None = utc_column(nullable=True)
    # The clinician whose approval the scheduler acts on.
    approved_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()


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
    created_at: dt.datetime = utc_column()


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
    due_at: dt.datetime = utc_column()
    recorded_at: dt.datetime = utc_column()


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
    reported_at: dt.datetime = utc_column()
