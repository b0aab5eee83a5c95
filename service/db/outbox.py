"""The outbox: messages queued, claimed by dispatchers, and settled."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col
from sqlmodel import select as model_select

from service.db.batch import in_batch
from service.db.doses import (
    EVENTS,
    PENDING,
    PRESCRIPTIONS,
    EventFacts,
    event_facts_columns,
    event_facts_of,
)
from service.db.tables import Notification, Patient

OUTBOX: Table = Notification.__table__  # type: ignore[attr-defined]
_PATIENTS: Table = Patient.__table__  # type: ignore[attr-defined]

# Outbox statuses; `claimed` rows carry a lease in `next_attempt_at`.
QUEUED = "pending"
CLAIMED = "claimed"
SENT = "sent"
FAILED = "failed"
EXPIRED = "expired"
WITHDRAWN = "cancelled"


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
        "status": QUEUED,
        "attempts": 0,
        "next_attempt_at": due_at,
        "payload": payload or {},
        "created_at": now,
        "updated_at": now,
    }


def _claimable() -> ColumnElement[bool]:
    """Status pending or claimed, with the two values written into the SQL: a planner
    can use the partial index `ix_notifications_claimable` (WHERE status IN
    ('pending', 'claimed')) only when it sees the same values in the query; through
    bound parameters SQLite scans and sorts the whole outbox instead."""
    return OUTBOX.c.status.in_(
        bindparam("claimable", [QUEUED, CLAIMED], expanding=True, literal_execute=True)
    )


def _claimed(r: Any, token: str, event: EventFacts | None = None) -> Claimed:
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


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def reopen_withdrawn(self, event_ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        """Reminders withdrawn with their doses are queued again where the dose was
        planned anew at the same instant (same dose, same idempotency key)."""
        if not event_ids:
            return
        connection = self._s.connection()
        planned_again = (
            select(EVENTS.c.id)
            .where(in_batch(connection, EVENTS.c.id, event_ids), EVENTS.c.status == PENDING)
            .scalar_subquery()
        )
        connection.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.dose_event_id.in_(planned_again),
                OUTBOX.c.status == WITHDRAWN,
                OUTBOX.c.kind == "dose-reminder",
            )
            .values(
                status=QUEUED,
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
        e = EVENTS
        due = literal(now, type_=OUTBOX.c.due_at.type) if due_now else e.c.scheduled_at
        source = (
            select(
                literal(f"{kind}:") + cast(e.c.id, Text),
                literal(kind),
                _PATIENTS.c.user_id,
                e.c.patient_id,
                e.c.id,
                due,
                literal(QUEUED),
                literal(0),
                due,
                literal({}, type_=OUTBOX.c.payload.type),
                literal(now, type_=OUTBOX.c.created_at.type),
                literal(now, type_=OUTBOX.c.updated_at.type),
            )
            .join(_PATIENTS, _PATIENTS.c.id == e.c.patient_id)
            .join(
                PRESCRIPTIONS,
                and_(PRESCRIPTIONS.c.id == e.c.prescription_id, PRESCRIPTIONS.c.status == "active"),
            )
            .where(
                e.c.status.in_(tuple(statuses)),
                e.c.prn.is_(False),
                e.c.scheduled_at > scheduled_after,
                e.c.scheduled_at <= scheduled_until,
            )
        )
        if unless_snoozed:
            source = source.where(e.c.snoozed_until.is_(None))
        columns = [
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
        stmt = insert_for(self._s)(OUTBOX).from_select(columns, source)
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
                _claimable(),
                OUTBOX.c.kind.in_(tuple(kinds)),
                OUTBOX.c.due_at < due_before,
                OUTBOX.c.next_attempt_at <= now,
            )
            .values(status=EXPIRED, claimed_by=None, claim_token=None, updated_at=now)
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
        o = OUTBOX
        token = token or new_claim_token()
        due = select(o.c.id).where(_claimable(), o.c.next_attempt_at <= now)
        if stale_kinds and stale_before is not None:
            due = due.where(or_(o.c.kind.not_in(tuple(stale_kinds)), o.c.due_at >= stale_before))
        due = due.order_by(o.c.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
        connection = self._s.connection()
        postgres = connection.dialect.name == "postgresql"
        # PostgreSQL: `id = ANY(ARRAY(subquery))` locks the due rows first, then
        # updates them by primary key, whatever the planner thinks of the table.
        claimable = (
            o.c.id == any_(func.array(due.scalar_subquery()))
            if postgres
            else o.c.id.in_(due.scalar_subquery())
        )
        stmt = (
            update(o)
            .where(claimable)
            .values(
                status=CLAIMED,
                claimed_by=worker,
                claim_token=token,
                next_attempt_at=now + lease,
                attempts=o.c.attempts + 1,
                updated_at=now,
            )
            .returning(
                o.c.id,
                o.c.idempotency_key,
                o.c.kind,
                o.c.recipient_id,
                o.c.patient_id,
                o.c.dose_event_id,
                o.c.due_at,
                o.c.attempts,
                o.c.payload,
            )
        )
        if not postgres:
            rows = connection.execute(stmt).all()
            claimed = [_claimed(r, token) for r in rows]
        else:
            # The claim and the read of the dose events in one round trip. Dose
            # messages carry no payload: '{}' comes back as NULL, with nothing to decode.
            c = stmt.cte("claimed")
            e = EVENTS
            payload = c.c.payload
            query = select(
                *(column for column in c.c if column is not payload),
                case((cast(payload, Text) == "{}", None), else_=payload),
                *event_facts_columns(),
            ).select_from(c.outerjoin(e, e.c.id == c.c.dose_event_id))
            claimed = [
                _claimed(r, token, event_facts_of(r[9:]) if r[9] is not None else None)
                for r in connection.execute(query).all()
            ]
        claimed.sort(key=lambda c: (c.due_at, c.id))
        return claimed

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
        o = OUTBOX
        held = and_(o.c.claim_token == token, o.c.status == CLAIMED)
        mine = and_(o.c.id == bindparam("row_id"), held)
        connection = self._s.connection()
        done = {"claimed_by": None, "claim_token": None, "updated_at": now}
        # The common outcomes are one statement each, not one per row.
        for ids, status in ((sent, SENT), (withdrawn, WITHDRAWN)):
            if ids:
                values: dict[str, Any] = {"status": status, **done}
                if status == SENT:
                    values.update(sent_at=now, last_error=None)
                connection.execute(
                    update(o)
                    .where(in_batch(connection, o.c.id, ids, name="ids"), held)
                    .values(**values)
                )
        if released:
            # Claimed but not attempted: back in the queue at once, the claim uncounted.
            connection.execute(
                update(o)
                .where(in_batch(connection, o.c.id, released, name="ids"), held)
                .values(status=QUEUED, next_attempt_at=now, attempts=o.c.attempts - 1, **done)
            )
        # A retry counts the attempt; a deferral (nothing was sent) does not.
        for rows, uncount in ((retry, False), (deferred, True)):
            if rows:
                values = {
                    "status": QUEUED,
                    "next_attempt_at": bindparam("retry_at"),
                    "last_error": bindparam("error"),
                    **done,
                }
                if uncount:
                    values["attempts"] = o.c.attempts - 1
                connection.execute(
                    update(o).where(mine).values(**values),
                    [{"row_id": i, "retry_at": at, "error": err[:1000]} for i, at, err in rows],
                )
        if failed:
            connection.execute(
                update(o).where(mine).values(status=FAILED, last_error=bindparam("error"), **done),
                [{"row_id": i, "error": err[:1000]} for i, err in failed],
            )

    def release(self, *, worker: str, now: dt.datetime) -> int:
        """Give back this worker's claims (on shutdown) so others need not wait for
        the lease."""
        o = OUTBOX
        stmt = (
            update(o)
            .where(o.c.claimed_by == worker, o.c.status == CLAIMED)
            .values(
                status=QUEUED,
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
            .where(OUTBOX.c.dose_event_id == event_id, OUTBOX.c.status == QUEUED)
            .values(status=WITHDRAWN, updated_at=now)
        )

    # Read-only views of the outbox for operators and for the care team.

    def operational_page(
        self, *, status: str | None, limit: int, offset: int
    ) -> list[OperationalRow]:
        """Newest first, with only the columns of the delivery lifecycle: what a
        message is about (kind, patient, recipient, dose, due time, payload) is not
        even read."""
        o = OUTBOX
        query = select(*_OPERATIONAL).order_by(o.c.updated_at.desc(), o.c.id.desc())
        if status is not None:
            query = query.where(o.c.status == status)
        rows = self._s.connection().execute(query.limit(limit).offset(offset)).all()
        return [OperationalRow(*r) for r in rows]

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
            .where(_claimable(), o.c.next_attempt_at <= now)
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
    ) -> list[Notification]:
        """Messages about one patient (to them or to their care team; to
        `recipient_id` only, when given), newest first."""
        query = (
            model_select(Notification)
            .where(col(Notification.patient_id) == patient_id)
            .order_by(col(Notification.updated_at).desc(), col(Notification.id).desc())
        )
        if recipient_id is not None:
            query = query.where(col(Notification.recipient_id) == recipient_id)
        return list(self._s.exec(query.limit(limit).offset(offset)))


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
