"""A patient's record: prescriptions and their versions, coded conditions, reported
products, and the findings of screening them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column
from service.domain.prescriptions import (
    Dose,
    PrescriptionTerms,
    Schedule,
    ScreeningScope,
    plain_amount,
)


class Prescription(SQLModel, table=True):
    """The stable identity of a prescription; its terms live in versions."""

    __tablename__ = "prescriptions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    patient_id: uuid.UUID = Field(foreign_key="patients.id", index=True)
    current_version: int = 1
    status: str = Field(max_length=16, index=True)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = utc_column()
    updated_at: dt.datetime = utc_column()
    # Dose planning: doses are planned up to `planned_until`, and never before
    # `plan_from` (set when a new time zone re-plans, so the past is not re-planned).
    planned_until: dt.datetime | None = utc_column(nullable=True)
    plan_from: dt.datetime | None = utc_column(nullable=True)


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
    # Full, or partial for a confirmed unlisted drug (some checks could not run).
    screening: str = Field(default=ScreeningScope.FULL.value, max_length=16)
    unlisted_reason: str | None = Field(default=None, max_length=2000)
    created_by: uuid.UUID = Field(foreign_key="users.id")
    created_at: dt.datetime = utc_column()

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
    created_at: dt.datetime = utc_column()


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
    recorded_at: dt.datetime = utc_column()
    ended_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    ended_at: dt.datetime | None = utc_column(nullable=True)
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
    reported_at: dt.datetime = utc_column()
    ended_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    ended_at: dt.datetime | None = utc_column(nullable=True)


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
    found_at: dt.datetime = utc_column()
    resolved_at: dt.datetime | None = utc_column(nullable=True)
    acknowledged_by: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    acknowledged_at: dt.datetime | None = utc_column(nullable=True)
    acknowledged_reason: str | None = Field(default=None, max_length=2000)
    # domain.findings.Answer; null for answers given before it was recorded.
    acknowledged_as: str | None = Field(default=None, max_length=16)
    care_team_notified_at: dt.datetime | None = utc_column(nullable=True)
