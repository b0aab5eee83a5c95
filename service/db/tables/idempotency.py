"""The answers given to requests sent with an `Idempotency-Key`, kept so that a retry
gets the first answer (service/usecases/idempotency.py). Not clinical data: rows are
deleted once they expire."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


class IdempotencyKey(SQLModel, table=True):
    """One key of one caller for one operation (method and route template), the
    fingerprint of the request that first used it, and the answer it got. The body
    is stored sealed (AES-GCM under a key derived from the secret key): some answers
    carry one-time codes that are otherwise stored only as hashes."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "operation", "key", name="ux_idempotency_scope"),
        Index("ix_idempotency_user_created", "user_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id")
    operation: str = Field(max_length=200)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    status: int
    headers: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: dt.datetime = utc_column()
