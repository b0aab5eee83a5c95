"""Read-only views of the outbox, for operators and for the care team."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import Session, col
from sqlmodel import select as model_select

from service.db.outbox_rows import OUTBOX, in_flight
from service.db.paging import count_rows
from service.db.tables import Notification
from service.domain.pages import Page


@dataclass(frozen=True)
class OperationalRow:
    """An outbox row as operators see it: its delivery lifecycle, not its content."""

    id: int
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None


_OPERATIONAL = (
    OUTBOX.c.id,
    OUTBOX.c.status,
    OUTBOX.c.attempts,
    OUTBOX.c.last_error,
    OUTBOX.c.created_at,
    OUTBOX.c.next_attempt_at,
    OUTBOX.c.updated_at,
    OUTBOX.c.sent_at,
)


class OutboxViews:
    """The outbox repository's reads (OutboxRepository adds the writes)."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def operational_page(
        self, *, status: str | None, limit: int, offset: int
    ) -> Page[OperationalRow]:
        """Newest first, with only the columns of the delivery lifecycle: what a
        message is about (kind, patient, recipient, dose, due time, payload) is not
        even read."""
        o = OUTBOX
        query = select(*_OPERATIONAL).order_by(o.c.updated_at.desc(), o.c.id.desc())
        if status is not None:
            query = query.where(o.c.status == status)
        rows = self._s.connection().execute(query.limit(limit).offset(offset)).all()
        return Page((OperationalRow(*r) for r in rows), total=count_rows(self._s, query))

    def operational_row(self, message_id: int) -> OperationalRow | None:
        row = self._s.connection().execute(select(*_OPERATIONAL).where(OUTBOX.c.id == message_id))
        found = row.first()
        return OperationalRow(*found) if found is not None else None

    def status_counts(self) -> dict[str, int]:
        o = OUTBOX
        rows = self._s.connection().execute(select(o.c.status, func.count()).group_by(o.c.status))
        return {status: int(count) for status, count in rows}

    def waiting(self, *, now: dt.datetime) -> dict[str, tuple[int, dt.datetime]]:
        """By status (pending, claimed): how many are past their next attempt time
        and the earliest such time. A claimed one past it is a lease run out."""
        o = OUTBOX
        query = (
            select(o.c.status, func.count(), func.min(o.c.next_attempt_at))
            .where(in_flight(), o.c.next_attempt_at <= now)
            .group_by(o.c.status)
        )
        return {s: (int(n), at) for s, n, at in self._s.connection().execute(query)}

    def error_texts(self, *, status: str, retried_only: bool = False) -> list[tuple[str, int]]:
        """Distinct beginnings of the last errors of messages in `status`, with counts.

        300 characters hold the channel, the device id of a fan-out and the
        receiver's status; what follows is receivers' text, which would only split
        the groups."""
        o = OUTBOX
        head = func.substr(o.c.last_error, 1, 300)
        query = select(head, func.count()).where(o.c.status == status, o.c.last_error.is_not(None))
        if retried_only:
            query = query.where(o.c.attempts > 0)
        rows = self._s.connection().execute(query.group_by(head))
        return [(str(text), int(count)) for text, count in rows]

    def message(self, message_id: int) -> Notification | None:
        return self._s.get(Notification, message_id)

    def messages_about(
        self,
        patient_id: uuid.UUID,
        *,
        recipient_id: uuid.UUID | None,
        limit: int,
        offset: int,
    ) -> Page[Notification]:
        """Messages about one patient (to them or to their care team; to
        `recipient_id` only, when given), newest first."""
        query = (
            model_select(Notification)
            .where(col(Notification.patient_id) == patient_id)
            .order_by(col(Notification.updated_at).desc(), col(Notification.id).desc())
        )
        if recipient_id is not None:
            query = query.where(col(Notification.recipient_id) == recipient_id)
        rows = list(self._s.exec(query.limit(limit).offset(offset)))
        return Page(rows, total=count_rows(self._s, query))
