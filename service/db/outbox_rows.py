"""The outbox table, the rows queued into it and the rows a claim hands out."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from service.db.doses import EventFacts
from service.db.tables import Notification
from service.domain.messages import IN_FLIGHT, MessageStatus

OUTBOX: Table = Notification.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A claimed outbox row with what a message about it needs.

    `event` is the row's dose event where the claim read it in the same statement
    (PostgreSQL); otherwise None, and the caller reads it.
    """

    id: int
    idempotency_key: str
    kind: str
    recipient_id: uuid.UUID
    patient_id: uuid.UUID
    dose_event_id: uuid.UUID | None
    due_at: dt.datetime
    attempts: int
    payload: dict[str, Any]
    token: str
    event: EventFacts | None = None


# The columns a claim returns, in the order `claimed_of` reads them.
CLAIMED_COLUMNS = (
    OUTBOX.c.id,
    OUTBOX.c.idempotency_key,
    OUTBOX.c.kind,
    OUTBOX.c.recipient_id,
    OUTBOX.c.patient_id,
    OUTBOX.c.dose_event_id,
    OUTBOX.c.due_at,
    OUTBOX.c.attempts,
    OUTBOX.c.payload,
)


def claimed_of(r: Any, token: str, event: EventFacts | None = None) -> Claimed:
    """Claimed from a row of CLAIMED_COLUMNS."""
    return Claimed(
        id=r[0],
        idempotency_key=r[1],
        kind=r[2],
        recipient_id=r[3],
        patient_id=r[4],
        dose_event_id=r[5],
        due_at=r[6],
        attempts=r[7],
        payload=r[8] or {},
        token=token,
        event=event,
    )


def new_claim_token() -> str:
    return uuid.uuid4().hex


def insert_for(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT on PostgreSQL and SQLite."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def queued(
    *,
    key: str,
    kind: str,
    recipient_id: uuid.UUID,
    patient_id: uuid.UUID,
    dose_event_id: uuid.UUID | None,
    due_at: dt.datetime,
    now: dt.datetime,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An outbox row for `add_messages`: queued, never tried, due at `due_at`."""
    return {
        "idempotency_key": key,
        "kind": kind,
        "recipient_id": recipient_id,
        "patient_id": patient_id,
        "dose_event_id": dose_event_id,
        "due_at": due_at,
        "status": MessageStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": due_at,
        "payload": payload or {},
        "created_at": now,
        "updated_at": now,
    }


def in_flight() -> ColumnElement[bool]:
    """A status in IN_FLIGHT, with the values written into the SQL: a planner can use
    the partial index `ix_notifications_claimable` (built from the same IN_FLIGHT)
    only when it sees the same values in the query; through bound parameters SQLite
    scans and sorts the whole outbox instead."""
    return OUTBOX.c.status.in_(
        bindparam(
            "claimable",
            [status.value for status in IN_FLIGHT],
            expanding=True,
            literal_execute=True,
        )
    )
