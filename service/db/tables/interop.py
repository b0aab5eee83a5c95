"""What interoperability with EHRs keeps: the identifiers that link an EHR's patient
to a medtrack patient, the CDS Hooks cards issued and the feedback on them, and the
JWT ids already used by CDS clients (kept until the token expires, against replay)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


class PatientIdentifier(SQLModel, table=True):
    """An identifier (system and value) under which an EHR knows a medtrack patient;
    one value of one system names one patient."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("system", "value", name="ux_patient_identifier"),)

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    patient_id: UUID = Field(foreign_key="patients.id", index=True)
    system: str = Field(max_length=255)
    value: str = Field(max_length=255)
    added_by: UUID = Field(foreign_key="users.id")
    added_at: dt.datetime = utc_column()


class CdsCard(SQLModel, table=True):
    """A card the CDS Hooks service issued: to which client, for which hook call, about
    which medtrack patient when linked, and what it said."""

    __tablename__ = "cds_cards"
    __table_args__ = (Index("ix_cds_cards_patient", "patient_id", "issued_at"),)

    uuid: UUID = Field(primary_key=True)
    client: str = Field(max_length=255)
    hook: str = Field(max_length=64)
    hook_instance: str = Field(max_length=255)
    patient_id: UUID | None = Field(default=None, foreign_key="patients.id")
    ehr_patient: str | None = Field(default=None, max_length=255)
    indicator: str = Field(max_length=16)
    summary: str = Field(max_length=200)
    finding_id: str | None = Field(default=None, max_length=40)
    issued_at: dt.datetime = utc_column()


class CdsFeedback(SQLModel, table=True):
    """What the clinician did with a card: accepted (which suggestions) or overridden
    (with the coded reason and comment, if given), as the CDS client reported it."""

    __tablename__ = "cds_feedback"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    card_uuid: UUID = Field(foreign_key="cds_cards.uuid", index=True)
    client: str = Field(max_length=255)
    outcome: str = Field(max_length=16)
    accepted_suggestions: list[str] = Field(sa_column=Column(JSON, nullable=False))
    override_reason: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    user_comment: str | None = Field(default=None, max_length=2000)
    outcome_at: dt.datetime = utc_column()
    recorded_at: dt.datetime = utc_column()


class CdsTokenUse(SQLModel, table=True):
    """A CDS client's JWT id, used once; deleted once the token has expired."""

    __tablename__ = "cds_token_uses"

    issuer: str = Field(max_length=255, primary_key=True)
    jti: str = Field(max_length=255, primary_key=True)
    expires_at: dt.datetime = utc_column(index=True)
