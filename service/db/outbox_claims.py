"""Claiming due outbox messages under a lease, and settling what became of them.

A claim marks rows `claimed`, with a lease in `next_attempt_at` and a token; settling
a row requires the token its claim wrote, so a dispatcher whose lease ran out (and
whose rows another claimed) cannot overwrite the newer claim's outcome (fencing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, and_, any_, bindparam, case, cast, func, or_, select, tuple_, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select

from service.db.batch import in_batch
from service.db.doses import EVENTS, event_facts_columns, event_facts_of
from service.db.outbox_rows import CLAIMED_COLUMNS, OUTBOX, Claimed, claimed_of, in_flight
from service.domain.messages import MessageStatus


def _due(
    *,
    now: dt.datetime,
    limit: int,
    stale_kinds: Collection[str],
    stale_before: dt.datetime | None,
) -> Select[Any]:
    """The ids of the messages to claim, locked, skipping rows others hold."""
    o = OUTBOX
    due = select(o.c.id).where(in_flight(), o.c.next_attempt_at <= now)
    if stale_kinds and stale_before is not None:
        due = due.where(or_(o.c.kind.not_in(tuple(stale_kinds)), o.c.due_at >= stale_before))
    return due.order_by(o.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True)


def _claim(
    due: Select[Any],
    *,
    postgres: bool,
    worker: str,
    token: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> ReturningUpdate[Any]:
    """The UPDATE that claims the `due` rows and returns CLAIMED_COLUMNS."""
    o = OUTBOX
    # PostgreSQL: `id = ANY(ARRAY(subquery))` locks the due rows first, then
    # updates them by primary key, whatever the planner thinks of the table.
    claimable = (
        o.c.id == any_(func.array(due.scalar_subquery()))
        if postgres
        else o.c.id.in_(due.scalar_subquery())
    )
    return (
        update(o)
        .where(claimable)
        .values(
            status=MessageStatus.CLAIMED.value,
            claimed_by=worker,
            claim_token=token,
            next_attempt_at=now + lease,
            attempts=o.c.attempts + 1,
            updated_at=now,
        )
        .returning(*CLAIMED_COLUMNS)
    )


def _claimed_with_events(
    connection: Connection, stmt: ReturningUpdate[Any], token: str
) -> list[Claimed]:
    """The claim and the read of the dose events in one round trip (PostgreSQL).
    Dose messages carry no payload: '{}' comes back as NULL, with nothing to decode."""
    c = stmt.cte("claimed_rows")
    e = EVENTS
    payload = c.c.payload
    query = select(
        *(column for column in c.c if column is not payload),
        case((cast(payload, Text) == "{}", None), else_=payload),
        *event_facts_columns(),
    ).select_from(c.outerjoin(e, e.c.id == c.c.dose_event_id))
    return [
        claimed_of(r, token, event_facts_of(r[9:]) if r[9] is not None else None)
        for r in connection.execute(query).all()
    ]


def claim_due(
    connection: Connection,
    *,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    token: str,
    stale_kinds: Collection[str],
    stale_before: dt.datetime | None,
) -> list[Claimed]:
    """OutboxRepository.claim: the claimed rows, by due time."""
    due = _due(now=now, limit=limit, stale_kinds=stale_kinds, stale_before=stale_before)
    postgres = connection.dialect.name == "postgresql"
    stmt = _claim(due, postgres=postgres, worker=worker, token=token, now=now, lease=lease)
    if postgres:
        claimed = _claimed_with_events(connection, stmt, token)
    else:
        claimed = [claimed_of(r, token) for r in connection.execute(stmt).all()]
    claimed.sort(key=lambda c: (c.due_at, c.id))
    return claimed


def claim_siblings(
    connection: Connection,
    *,
    of: Sequence[Claimed],
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta,
    token: str,
) -> list[Claimed]:
    """OutboxRepository.claim_siblings: the due rows that share patient, kind and due
    time with a row of `of`, claimed under the same token, so that a patient's doses of
    one instant are sent together (service.usecases.dispatch_lanes) and a batch limit
    never splits them. Rows another dispatcher holds are skipped (SKIP LOCKED)."""
    groups = {(c.patient_id, c.kind, c.due_at) for c in of}
    if not groups:
        return []
    o = OUTBOX
    due = (
        select(o.c.id)
        .where(
            in_flight(),
            o.c.next_attempt_at <= now,
            or_(o.c.claim_token.is_(None), o.c.claim_token != token),
            tuple_(o.c.patient_id, o.c.kind, o.c.due_at).in_(sorted(groups, key=str)),
        )
        .with_for_update(skip_locked=True)
    )
    postgres = connection.dialect.name == "postgresql"
    stmt = _claim(due, postgres=postgres, worker=worker, token=token, now=now, lease=lease)
    return [claimed_of(r, token) for r in connection.execute(stmt).all()]


@dataclass(frozen=True)
class Settling:
    """Settling the rows of one claim (`held`: its token, still claimed)."""

    connection: Connection
    held: ColumnElement[bool]
    now: dt.datetime

    @property
    def done(self) -> dict[str, Any]:
        """What every settled row loses: its claim."""
        return {"claimed_by": None, "claim_token": None, "updated_at": self.now}

    def finish(self, ids: Sequence[int], status: MessageStatus) -> None:
        """Sent or withdrawn: one statement for all of them, not one per row."""
        if not ids:
            return
        values: dict[str, Any] = {"status": status.value, **self.done}
        if status is MessageStatus.SENT:
            values.update(sent_at=self.now, last_error=None)
        self._update_all(ids, values)

    def release(self, ids: Sequence[int]) -> None:
        """Claimed but not attempted: back in the queue at once, the claim uncounted."""
        if ids:
            o = OUTBOX
            values = {"next_attempt_at": self.now, "attempts": o.c.attempts - 1}
            self._update_all(ids, {"status": MessageStatus.PENDING.value, **values, **self.done})

    def requeue(self, rows: Sequence[tuple[int, dt.datetime, str]], *, uncount: bool) -> None:
        """Queued again for later: a retry counts the attempt; a deferral (nothing
        was sent) does not."""
        if not rows:
            return
        values: dict[str, Any] = {
            "status": MessageStatus.PENDING.value,
            "next_attempt_at": bindparam("retry_at"),
            "last_error": bindparam("error"),
            **self.done,
        }
        if uncount:
            values["attempts"] = OUTBOX.c.attempts - 1
        params = [{"row_id": i, "retry_at": at, "error": err[:1000]} for i, at, err in rows]
        self.connection.execute(update(OUTBOX).where(self._mine()).values(**values), params)

    def fail(self, rows: Sequence[tuple[int, str]]) -> None:
        if rows:
            values = {"status": MessageStatus.FAILED.value, "last_error": bindparam("error")}
            self.connection.execute(
                update(OUTBOX).where(self._mine()).values(**values, **self.done),
                [{"row_id": i, "error": err[:1000]} for i, err in rows],
            )

    def _mine(self) -> ColumnElement[bool]:
        return and_(OUTBOX.c.id == bindparam("row_id"), self.held)

    def _update_all(self, ids: Sequence[int], values: dict[str, Any]) -> None:
        c = self.connection
        where = (in_batch(c, OUTBOX.c.id, ids, name="ids"), self.held)
        c.execute(update(OUTBOX).where(*where).values(**values))
