"""The outbox: messages queued, claimed by dispatchers, and settled.

The table and its rows are in outbox_rows.py, claiming and settling in
outbox_claims.py, the read-only views in outbox_views.py; the names callers use are
importable from here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Table, Text, and_, cast, literal, select, update
from sqlalchemy.sql.selectable import Select

from service.db.batch import in_batch
from service.db.doses import EVENTS, PRESCRIPTIONS
from service.db.outbox_claims import Settling, claim_due, claim_siblings
from service.db.outbox_rows import (
    OUTBOX,
    Claimed,
    in_flight,
    insert_for,
    new_claim_token,
    queued,
)
from service.db.outbox_views import OperationalRow, OutboxViews
from service.db.tables import Patient
from service.domain.doses import DoseStatus
from service.domain.messages import MessageKind, MessageStatus
from service.domain.prescriptions import Status

__all__ = [
    "OUTBOX",
    "Claimed",
    "OperationalRow",
    "OutboxRepository",
    "insert_for",
    "new_claim_token",
    "queued",
]

_PATIENTS: Table = Patient.__table__  # type: ignore[attr-defined]

# The columns enqueue_dose_messages writes, in the order of its SELECT.
_ENQUEUED_COLUMNS = [
    "idempotency_key",
    "kind",
    "recipient_id",
    "patient_id",
    "dose_event_id",
    "due_at",
    "status",
    "attempts",
    "next_attempt_at",
    "payload",
    "created_at",
    "updated_at",
]


def _dose_messages(
    *,
    kind: str,
    statuses: Collection[str],
    scheduled_after: dt.datetime,
    scheduled_until: dt.datetime,
    now: dt.datetime,
    due_now: bool,
) -> Select[Any]:
    """The rows of enqueue_dose_messages: one per dose of an active prescription."""
    e = EVENTS
    kind = str(kind)  # the kind's text, bound as the plain string it is stored as
    due = literal(now, type_=OUTBOX.c.due_at.type) if due_now else e.c.scheduled_at
    return (
        select(
            literal(f"{kind}:") + cast(e.c.id, Text),
            literal(kind),
            _PATIENTS.c.user_id,
            e.c.patient_id,
            e.c.id,
            due,
            literal(MessageStatus.PENDING.value),
            literal(0),
            due,
            literal({}, type_=OUTBOX.c.payload.type),
            literal(now, type_=OUTBOX.c.created_at.type),
            literal(now, type_=OUTBOX.c.updated_at.type),
        )
        .join(_PATIENTS, _PATIENTS.c.id == e.c.patient_id)
        .join(
            PRESCRIPTIONS,
            and_(
                PRESCRIPTIONS.c.id == e.c.prescription_id,
                PRESCRIPTIONS.c.status == Status.ACTIVE.value,
            ),
        )
        .where(
            e.c.status.in_(tuple(statuses)),
            e.c.prn.is_(False),
            e.c.scheduled_at > scheduled_after,
            e.c.scheduled_at <= scheduled_until,
        )
    )


class OutboxRepository(OutboxViews):
    def reopen_withdrawn(self, event_ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        """Reminders withdrawn with their doses are queued again where the dose was
        planned anew at the same instant (same dose, same idempotency key)."""
        if not event_ids:
            return
        connection = self._s.connection()
        planned_again = (
            select(EVENTS.c.id)
            .where(
                in_batch(connection, EVENTS.c.id, event_ids),
                EVENTS.c.status == DoseStatus.PENDING,
            )
            .scalar_subquery()
        )
        connection.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.dose_event_id.in_(planned_again),
                OUTBOX.c.status == MessageStatus.CANCELLED,
                OUTBOX.c.kind == MessageKind.REMINDER,
            )
            .values(
                status=MessageStatus.PENDING.value,
                attempts=0,
                next_attempt_at=OUTBOX.c.due_at,
                last_error=None,
                updated_at=now,
            )
        )

    def enqueue_dose_messages(
        self,
        *,
        kind: str,
        statuses: Collection[str],
        scheduled_after: dt.datetime,
        scheduled_until: dt.datetime,
        now: dt.datetime,
        due_now: bool = False,
        unless_snoozed: bool = False,
    ) -> int:
        """One message of `kind` to the patient for every dose in one of `statuses`
        of an active prescription, scheduled in (scheduled_after, scheduled_until];
        keys already queued are left alone. The message is due at the dose's time, or
        at once (`due_now`); `unless_snoozed` leaves out doses the patient snoozed."""
        source = _dose_messages(
            kind=kind,
            statuses=statuses,
            scheduled_after=scheduled_after,
            scheduled_until=scheduled_until,
            now=now,
            due_now=due_now,
        )
        if unless_snoozed:
            source = source.where(EVENTS.c.snoozed_until.is_(None))
        stmt = insert_for(self._s)(OUTBOX).from_select(_ENQUEUED_COLUMNS, source)
        # RETURNING counts what was inserted: the driver's rowcount for an
        # INSERT ... SELECT ... ON CONFLICT is not reliable on every engine.
        stmt = stmt.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
            OUTBOX.c.id
        )
        return len(self._s.connection().execute(stmt).all())

    def add_messages(self, rows: Sequence[dict[str, Any]]) -> int:
        """Queue messages; one whose idempotency key is queued already is ignored."""
        if not rows:
            return 0
        stmt = (
            insert_for(self._s)(OUTBOX)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(OUTBOX.c.id)
        )
        connection = self._s.connection()
        return sum(len(connection.execute(stmt, row).all()) for row in rows)

    def expire(self, *, kinds: Collection[str], due_before: dt.datetime, now: dt.datetime) -> int:
        """Queued messages too old to be useful any more are expired, not sent."""
        stmt = (
            update(OUTBOX)
            .where(
                in_flight(),
                OUTBOX.c.kind.in_(tuple(kinds)),
                OUTBOX.c.due_at < due_before,
                OUTBOX.c.next_attempt_at <= now,
            )
            .values(
                status=MessageStatus.EXPIRED.value,
                claimed_by=None,
                claim_token=None,
                updated_at=now,
            )
        )
        return int(self._s.connection().execute(stmt).rowcount)

    def claim(
        self,
        *,
        worker: str,
        now: dt.datetime,
        lease: dt.timedelta,
        limit: int,
        token: str | None = None,
        stale_kinds: Collection[str] = (),
        stale_before: dt.datetime | None = None,
    ) -> list[Claimed]:
        """Claim due messages, and those whose claim's lease ran out; messages of
        `stale_kinds` due before `stale_before` are left for `expire`. Each claimed
        row carries `token` (by default a fresh one), which settling it requires.

        On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several dispatchers claim at
        once without waiting on, or taking, each other's rows, and the same
        statement returns each claimed row's dose event; SQLite serialises writers,
        so its single UPDATE is atomic on its own.
        """
        return claim_due(
            self._s.connection(),
            worker=worker,
            now=now,
            lease=lease,
            limit=limit,
            token=token or new_claim_token(),
            stale_kinds=stale_kinds,
            stale_before=stale_before,
        )

    def claim_siblings(
        self,
        *,
        of: Sequence[Claimed],
        worker: str,
        now: dt.datetime,
        lease: dt.timedelta,
        token: str,
    ) -> list[Claimed]:
        """Also claim, under `token`, the due rows of the same patient, kind and due
        time as those of `of` that the claim's limit left out (outbox_claims)."""
        return claim_siblings(
            self._s.connection(), of=of, worker=worker, now=now, lease=lease, token=token
        )

    def settle(
        self,
        *,
        token: str,
        now: dt.datetime,
        sent: Sequence[int] = (),
        withdrawn: Sequence[int] = (),
        retry: Sequence[tuple[int, dt.datetime, str]] = (),
        failed: Sequence[tuple[int, str]] = (),
        released: Sequence[int] = (),
        deferred: Sequence[tuple[int, dt.datetime, str]] = (),
    ) -> None:
        """Record what happened to messages claimed with `token`, where that claim still
        holds: a row whose lease ran out and which was claimed again carries another
        token, and is left to its new claimer (fencing)."""
        held = and_(OUTBOX.c.claim_token == token, OUTBOX.c.status == MessageStatus.CLAIMED)
        settling = Settling(self._s.connection(), held, now)
        settling.finish(sent, MessageStatus.SENT)
        settling.finish(withdrawn, MessageStatus.CANCELLED)
        settling.release(released)
        settling.requeue(retry, uncount=False)
        settling.requeue(deferred, uncount=True)
        settling.fail(failed)

    def release(self, *, worker: str, now: dt.datetime) -> int:
        """Give back this worker's claims (on shutdown) so others need not wait for
        the lease."""
        o = OUTBOX
        stmt = (
            update(o)
            .where(o.c.claimed_by == worker, o.c.status == MessageStatus.CLAIMED)
            .values(
                status=MessageStatus.PENDING.value,
                claimed_by=None,
                claim_token=None,
                next_attempt_at=now,
                updated_at=now,
            )
        )
        return int(self._s.connection().execute(stmt).rowcount)

    def withdraw_messages_for(self, event_id: uuid.UUID, *, now: dt.datetime) -> None:
        """A logged dose needs no more reminders about it."""
        self._s.connection().execute(
            update(OUTBOX)
            .where(OUTBOX.c.dose_event_id == event_id, OUTBOX.c.status == MessageStatus.PENDING)
            .values(status=MessageStatus.CANCELLED.value, updated_at=now)
        )
