"""The append-only audit trail and the anchors of its hash chains."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


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
    recorded: dt.datetime = utc_column()
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
    anchored_at: dt.datetime = utc_column()
    last_event_id: int
    heads: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    prev_digest: str = Field(max_length=64)
    digest: str = Field(max_length=64)
