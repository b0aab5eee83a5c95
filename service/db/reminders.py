"""Dose events, the notification outbox and devices: the set-based statements the
scheduler runs over many rows, and the lookups the dose API needs."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, Text, and_, bindparam, case, cast, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as model_select

from service.db.tables import (
    CareTeamMember,
    Device,
    DoseEvent,
    Notification,
    Patient,
    Prescription,
    PrescriptionVersion,
)

_EVENTS: Table = DoseEvent.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = Notification.__table__  # type: ignore[attr-defined]
_DEVICES: Table = Device.__table__  # type: ignore[attr-defined]
_PATIENTS: Table = Patient.__table__  # type: ignore[attr-defined]
_PRESCRIPTIONS: Table = Prescription.__table__  # type: ignore[attr-defined]

# Rows per executemany call, to bound the memory of one call.
_BATCH = 5000

# Dose-event statuses.
PENDING = "pending"
REMINDED = "reminded"
TAKEN = "taken"
SKIPPED = "skipped"
MISSED = "missed"
CANCELLED = "cancelled"
OPEN = (PENDING, REMINDED)

# Outbox statuses; `claimed` rows carry a lease in `next_attempt_at`.
QUEUED = "pending"
CLAIMED = "claimed"
SENT = "sent"
FAILED = "failed"
EXPIRED = "expired"
WITHDRAWN = "cancelled"


@dataclass(frozen=True, kw_only=True)
class ActiveSchedule:
    """What materialisation needs of one active prescription."""

    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    version: int
    version_created_at: dt.datetime
    drug: str
    drug_id: str | None
    ingredients: tuple[str, ...]
    dose_amount: Any
    dose_unit: str
    schedule: dict[str, Any]
    start_date: dt.date
    end_date: dt.date | None
    timezone: str
    planned_until: dt.datetime | None
    plan_from: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A claimed outbox row with what a message about it needs."""

    id: int
    idempotency_key: str
    kind: str
    recipient_id: uuid.UUID
    patient_id: uuid.UUID
    dose_event_id: uuid.UUID | None
    due_at: dt.datetime
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class EventFacts:
    id: uuid.UUID
    prescription_id: uuid.UUID
    drug: str
    dose_amount: Any
    dose_unit: str
    scheduled_at: dt.datetime
    timezone: str
    status: str


@dataclass(frozen=True, kw_only=True)
class DeviceFacts:
    id: uuid.UUID
    user_id: uuid.UUID
    platform: str
    endpoint: str | None
    token: str | None
    keys: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Missed:
    id: uuid.UUID
    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    drug: str
    scheduled_at: dt.datetime
    timezone: str
    withdrawal_risk: bool


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


class ReminderRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    # --- materialisation --------------------------------------------------------

    def prescriptions_to_plan(
        self, *, until: dt.datetime, patient_id: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """Active prescriptions not yet planned up to `until`."""
        p = _PRESCRIPTIONS
        query = select(p.c.id).where(
            p.c.status == "active",
            or_(p.c.planned_until.is_(None), p.c.planned_until < until),
        )
        if patient_id is not None:
            query = query.where(p.c.patient_id == patient_id)
        return [r[0] for r in self._s.connection().execute(query.order_by(p.c.id))]

    def active_schedules(
        self,
        *,
        ids: Collection[uuid.UUID] | None = None,
        patient_id: uuid.UUID | None = None,
        lock: bool = False,
    ) -> list[ActiveSchedule]:
        """Current terms of active prescriptions.

        `lock` takes a share lock on the prescriptions (PostgreSQL): a concurrent
        pause, revision or discontinuation waits until the doses planned from these
        terms are committed, and then withdraws them; and planning waits for one
        in flight, then sees its result.
        """
        v = PrescriptionVersion
        query = (
            select(
                col(Prescription.id),
                col(Prescription.patient_id),
                col(v.version),
                col(v.created_at),
                col(v.drug),
                col(v.drug_id),
                col(v.ingredients),
                col(v.dose_amount),
                col(v.dose_unit),
                col(v.schedule),
                col(v.start_date),
                col(v.end_date),
                col(Patient.timezone),
                col(Prescription.planned_until),
                col(Prescription.plan_from),
            )
            .join(
                v,
                (col(v.prescription_id) == col(Prescription.id))
                & (col(v.version) == col(Prescription.current_version)),
            )
            .join(Patient, col(Patient.id) == col(Prescription.patient_id))
            .where(col(Prescription.status) == "active")
            .order_by(col(Prescription.id))
        )
        if ids is not None:
            query = query.where(col(Prescription.id).in_(list(ids)))
        if patient_id is not None:
            query = query.where(col(Prescription.patient_id) == patient_id)
        if lock:
            query = query.with_for_update(read=True, of=_PRESCRIPTIONS)
        return [
            ActiveSchedule(
                prescription_id=row[0],
                patient_id=row[1],
                version=row[2],
                version_created_at=row[3],
                drug=row[4],
                drug_id=row[5],
                ingredients=tuple(row[6] or ()),
                dose_amount=row[7],
                dose_unit=row[8],
                schedule=row[9],
                start_date=row[10],
                end_date=row[11],
                timezone=row[12],
                planned_until=row[13],
                plan_from=row[14],
            )
            for row in self._s.connection().execute(query)
        ]

    def insert_events(self, rows: Sequence[dict[str, Any]], *, revive: bool = False) -> None:
        """Insert planned doses; one already planned at the same instant is left as
        it is. With `revive` (only from the transaction that changed the terms, which
        holds the prescription's lock) a withdrawn one is planned anew instead."""
        if not rows:
            return
        stmt = _insert(self._s)(_EVENTS)
        if revive:
            renewed = ("version", "timezone", "slot", "drug", "dose_amount", "dose_unit")
            stmt = stmt.on_conflict_do_update(
                index_elements=["prescription_id", "scheduled_at"],
                set_={
                    **{c: stmt.excluded[c] for c in renewed},
                    "withdrawal_risk": stmt.excluded.withdrawal_risk,
                    "status": PENDING,
                    "snoozes": 0,
                    "snoozed_until": None,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=_EVENTS.c.status == CANCELLED,
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["prescription_id", "scheduled_at"])
        connection = self._s.connection()
        for start in range(0, len(rows), _BATCH):
            connection.execute(stmt, list(rows[start : start + _BATCH]))

    def set_planned_until(self, ids: Collection[uuid.UUID], until: dt.datetime) -> None:
        if ids:
            self._s.connection().execute(
                update(_PRESCRIPTIONS)
                .where(_PRESCRIPTIONS.c.id.in_(list(ids)))
                .values(planned_until=until)
            )

    def set_plan_from(self, patient_id: uuid.UUID, at: dt.datetime) -> None:
        """Doses of this patient's prescriptions are not planned before `at` again."""
        self._s.connection().execute(
            update(_PRESCRIPTIONS)
            .where(_PRESCRIPTIONS.c.patient_id == patient_id)
            .values(plan_from=at)
        )

    def logged_slots(
        self, patient_id: uuid.UUID, *, since: dt.datetime
    ) -> set[tuple[uuid.UUID, dt.date, str]]:
        """(prescription, local day, slot) of the patient's doses since `since` that
        stand (not withdrawn), each day in the zone it was planned in."""
        e = _EVENTS
        query = select(e.c.prescription_id, e.c.scheduled_at, e.c.timezone, e.c.slot).where(
            e.c.patient_id == patient_id,
            e.c.scheduled_at >= since,
            e.c.status != CANCELLED,
            e.c.slot.is_not(None),
        )
        return {
            (r[0], r[1].astimezone(zoneinfo.ZoneInfo(r[2])).date(), r[3])
            for r in self._s.connection().execute(query)
        }

    def cancel_future(
        self,
        *,
        after: dt.datetime,
        now: dt.datetime,
        patient_id: uuid.UUID | None = None,
        prescription_id: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Withdraw planned doses after `after` (and their queued messages), so the
        current terms can plan them again; returns the withdrawn doses."""
        if patient_id is None and prescription_id is None:
            raise ValueError("withdraw the doses of a patient or of a prescription")
        e = _EVENTS
        where = [e.c.scheduled_at > after, e.c.status == PENDING, e.c.prn.is_(False)]
        rx_where = []
        if patient_id is not None:
            where.append(e.c.patient_id == patient_id)
            rx_where.append(_PRESCRIPTIONS.c.patient_id == patient_id)
        if prescription_id is not None:
            where.append(e.c.prescription_id == prescription_id)
            rx_where.append(_PRESCRIPTIONS.c.id == prescription_id)
        connection = self._s.connection()
        withdrawn = [
            r[0]
            for r in connection.execute(
                update(e).where(*where).values(status=CANCELLED, updated_at=now).returning(e.c.id)
            )
        ]
        if withdrawn:
            connection.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.dose_event_id.in_(withdrawn), _OUTBOX.c.status == QUEUED)
                .values(status=WITHDRAWN, updated_at=now)
            )
        connection.execute(update(_PRESCRIPTIONS).where(*rx_where).values(planned_until=after))
        return withdrawn

    def reopen_withdrawn(self, event_ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        """Reminders withdrawn with their doses are queued again where the dose was
        planned anew at the same instant (same dose, same idempotency key)."""
        if not event_ids:
            return
        planned_again = (
            select(_EVENTS.c.id)
            .where(_EVENTS.c.id.in_(list(event_ids)), _EVENTS.c.status == PENDING)
            .scalar_subquery()
        )
        self._s.connection().execute(
            update(_OUTBOX)
            .where(
                _OUTBOX.c.dose_event_id.in_(planned_again),
                _OUTBOX.c.status == WITHDRAWN,
                _OUTBOX.c.kind == "dose-reminder",
            )
            .values(
                status=QUEUED,
                attempts=0,
                next_attempt_at=_OUTBOX.c.due_at,
                last_error=None,
                updated_at=now,
            )
        )

    # --- the outbox ---------------------------------------------------------------

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
        e = _EVENTS
        due = literal(now, type_=_OUTBOX.c.due_at.type) if due_now else e.c.scheduled_at
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
                literal({}, type_=_OUTBOX.c.payload.type),
                literal(now, type_=_OUTBOX.c.created_at.type),
                literal(now, type_=_OUTBOX.c.updated_at.type),
            )
            .join(_PATIENTS, _PATIENTS.c.id == e.c.patient_id)
            .join(
                _PRESCRIPTIONS,
                and_(
                    _PRESCRIPTIONS.c.id == e.c.prescription_id, _PRESCRIPTIONS.c.status == "active"
                ),
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
        stmt = _insert(self._s)(_OUTBOX).from_select(columns, source)
        # RETURNING counts what was inserted: the driver's rowcount for an
        # INSERT ... SELECT ... ON CONFLICT is not reliable on every engine.
        stmt = stmt.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(
            _OUTBOX.c.id
        )
        return len(self._s.connection().execute(stmt).all())

    def add_messages(self, rows: Sequence[dict[str, Any]]) -> int:
        """Queue messages; one whose idempotency key is queued already is ignored."""
        if not rows:
            return 0
        stmt = (
            _insert(self._s)(_OUTBOX)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(_OUTBOX.c.id)
        )
        connection = self._s.connection()
        return sum(len(connection.execute(stmt, row).all()) for row in rows)

    def expire(self, *, kinds: Collection[str], due_before: dt.datetime, now: dt.datetime) -> int:
        """Queued messages too old to be useful any more are expired, not sent."""
        stmt = (
            update(_OUTBOX)
            .where(
                _OUTBOX.c.status.in_((QUEUED, CLAIMED)),
                _OUTBOX.c.kind.in_(tuple(kinds)),
                _OUTBOX.c.due_at < due_before,
                _OUTBOX.c.next_attempt_at <= now,
            )
            .values(status=EXPIRED, claimed_by=None, updated_at=now)
        )
        return int(self._s.connection().execute(stmt).rowcount)

    def claim(
        self, *, worker: str, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> list[Claimed]:
        """Claim due messages, and those whose claim's lease ran out.

        On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several dispatchers claim at
        once without waiting on, or taking, each other's rows; SQLite serialises
        writers, so its single UPDATE is atomic on its own.
        """
        o = _OUTBOX
        due = (
            select(o.c.id)
            .where(o.c.status.in_((QUEUED, CLAIMED)), o.c.next_attempt_at <= now)
            .order_by(o.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(o)
            .where(o.c.id.in_(due.scalar_subquery()))
            .values(
                status=CLAIMED,
                claimed_by=worker,
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
        rows = self._s.connection().execute(stmt).all()
        claimed = [
            Claimed(
                id=r[0],
                idempotency_key=r[1],
                kind=r[2],
                recipient_id=r[3],
                patient_id=r[4],
                dose_event_id=r[5],
                due_at=r[6],
                attempts=r[7],
                payload=r[8] or {},
            )
            for r in rows
        ]
        claimed.sort(key=lambda c: (c.due_at, c.id))
        return claimed

    def settle(
        self,
        *,
        worker: str,
        now: dt.datetime,
        sent: Sequence[int] = (),
        withdrawn: Sequence[int] = (),
        retry: Sequence[tuple[int, dt.datetime, str]] = (),
        failed: Sequence[tuple[int, str]] = (),
        released: Sequence[int] = (),
    ) -> None:
        """Record what happened to claimed messages, where the claim is still ours."""
        o = _OUTBOX
        mine = and_(o.c.id == bindparam("row_id"), o.c.claimed_by == worker, o.c.status == CLAIMED)
        connection = self._s.connection()
        # The common outcomes are one statement each, not one per row.
        for ids, status in ((sent, SENT), (withdrawn, WITHDRAWN)):
            if ids:
                values: dict[str, Any] = {"status": status, "claimed_by": None, "updated_at": now}
                if status == SENT:
                    values.update(sent_at=now, last_error=None)
                connection.execute(
                    update(o)
                    .where(o.c.id.in_(list(ids)), o.c.claimed_by == worker, o.c.status == CLAIMED)
                    .values(**values)
                )
        if released:
            # Claimed but not attempted: back in the queue at once, the claim uncounted.
            connection.execute(
                update(o)
                .where(o.c.id.in_(list(released)), o.c.claimed_by == worker, o.c.status == CLAIMED)
                .values(
                    status=QUEUED,
                    claimed_by=None,
                    next_attempt_at=now,
                    attempts=o.c.attempts - 1,
                    updated_at=now,
                )
            )
        if retry:
            connection.execute(
                update(o)
                .where(mine)
                .values(
                    status=QUEUED,
                    claimed_by=None,
                    next_attempt_at=bindparam("retry_at"),
                    last_error=bindparam("error"),
                    updated_at=now,
                ),
                [{"row_id": i, "retry_at": at, "error": err[:1000]} for i, at, err in retry],
            )
        if failed:
            connection.execute(
                update(o)
                .where(mine)
                .values(
                    status=FAILED, claimed_by=None, last_error=bindparam("error"), updated_at=now
                ),
                [{"row_id": i, "error": err[:1000]} for i, err in failed],
            )

    def release(self, *, worker: str, now: dt.datetime) -> int:
        """Give back this worker's claims (on shutdown) so others need not wait for
        the lease."""
        o = _OUTBOX
        stmt = (
            update(o)
            .where(o.c.claimed_by == worker, o.c.status == CLAIMED)
            .values(status=QUEUED, claimed_by=None, next_attempt_at=now, updated_at=now)
        )
        return int(self._s.connection().execute(stmt).rowcount)

    def event_facts(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, EventFacts]:
        """What a message about each dose needs, as plain rows (a batch is hundreds)."""
        if not ids:
            return {}
        e = _EVENTS
        query = select(
            e.c.id,
            e.c.prescription_id,
            e.c.drug,
            e.c.dose_amount,
            e.c.dose_unit,
            e.c.scheduled_at,
            e.c.timezone,
            e.c.status,
        ).where(e.c.id.in_(list(ids)))
        return {
            r[0]: EventFacts(
                id=r[0],
                prescription_id=r[1],
                drug=r[2],
                dose_amount=r[3],
                dose_unit=r[4],
                scheduled_at=r[5],
                timezone=r[6],
                status=r[7],
            )
            for r in self._s.connection().execute(query)
        }

    def mark_reminded(self, ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        if not ids:
            return
        # Only the key in WHERE, so every engine finds the rows by primary key
        # (SQLite otherwise walks the status index); the CASE keeps logged doses.
        e = _EVENTS
        self._s.connection().execute(
            update(e)
            .where(e.c.id.in_(list(ids)))
            .values(
                status=case((e.c.status == PENDING, REMINDED), else_=e.c.status),
                updated_at=case((e.c.status == PENDING, now), else_=e.c.updated_at),
            )
        )

    def withdraw_messages_for(self, event_id: uuid.UUID, *, now: dt.datetime) -> None:
        """A logged dose needs no more reminders about it."""
        self._s.connection().execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.dose_event_id == event_id, _OUTBOX.c.status == QUEUED)
            .values(status=WITHDRAWN, updated_at=now)
        )

    def messages(self, *, status: str | None, limit: int, offset: int) -> list[Notification]:
        query = model_select(Notification).order_by(
            col(Notification.updated_at).desc(), col(Notification.id).desc()
        )
        if status is not None:
            query = query.where(col(Notification.status) == status)
        return list(self._s.exec(query.limit(limit).offset(offset)))

    # --- follow-ups -----------------------------------------------------------------

    def mark_missed(self, *, scheduled_before: dt.datetime, now: dt.datetime) -> list[Missed]:
        """Open doses whose time is long past become missed; returns them.

        One UPDATE ... RETURNING: of two schedulers doing this at once, the second
        waits for the first's row locks, re-reads the rows, and finds them missed.
        """
        e = _EVENTS
        stmt = (
            update(e)
            .where(
                e.c.status.in_(OPEN),
                e.c.prn.is_(False),
                e.c.scheduled_at <= scheduled_before,
            )
            .values(status=MISSED, updated_at=now)
            .returning(
                e.c.id,
                e.c.prescription_id,
                e.c.patient_id,
                e.c.drug,
                e.c.scheduled_at,
                e.c.timezone,
                e.c.withdrawal_risk,
            )
        )
        rows = self._s.connection().execute(stmt).all()
        missed = [
            Missed(
                id=r[0],
                prescription_id=r[1],
                patient_id=r[2],
                drug=r[3],
                scheduled_at=r[4],
                timezone=r[5],
                withdrawal_risk=r[6],
            )
            for r in rows
        ]
        missed.sort(key=lambda m: (m.scheduled_at, str(m.id)))
        return missed

    def statuses_of(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        p = _PRESCRIPTIONS
        query = select(p.c.id, p.c.status).where(p.c.id.in_(list(ids)))
        return {r[0]: r[1] for r in self._s.connection().execute(query)}

    def recent_outcomes(
        self, prescription_id: uuid.UUID, *, until: dt.datetime, n: int
    ) -> list[str]:
        """Statuses of the last `n` scheduled doses at or before `until`, newest first."""
        query = (
            select(_EVENTS.c.status)
            .where(
                _EVENTS.c.prescription_id == prescription_id,
                _EVENTS.c.prn.is_(False),
                _EVENTS.c.status != CANCELLED,
                _EVENTS.c.scheduled_at <= until,
            )
            .order_by(_EVENTS.c.scheduled_at.desc())
            .limit(n)
        )
        return [r[0] for r in self._s.connection().execute(query)]

    def care_team(self, patient_id: uuid.UUID) -> list[uuid.UUID]:
        query = model_select(CareTeamMember.clinician_id).where(
            CareTeamMember.patient_id == patient_id, col(CareTeamMember.removed_at).is_(None)
        )
        return list(self._s.exec(query))

    def mark_care_team_notified(self, ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        if ids:
            self._s.connection().execute(
                update(_EVENTS)
                .where(_EVENTS.c.id == bindparam("event_id"))
                .values(care_team_notified_at=now, updated_at=now),
                [{"event_id": i} for i in ids],
            )

    # --- devices --------------------------------------------------------------------

    def devices_of(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Device]]:
        out: dict[uuid.UUID, list[Device]] = {u: [] for u in user_ids}
        if not user_ids:
            return out
        query = (
            model_select(Device)
            .where(col(Device.user_id).in_(list(user_ids)), col(Device.removed_at).is_(None))
            .order_by(col(Device.created_at), col(Device.id))
        )
        for d in self._s.exec(query):
            out[d.user_id].append(d)
        return out

    def device_facts(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[DeviceFacts]]:
        """Active devices of each user, as plain rows, for the dispatcher."""
        out: dict[uuid.UUID, list[DeviceFacts]] = {u: [] for u in user_ids}
        if not user_ids:
            return out
        d = _DEVICES
        query = (
            select(d.c.id, d.c.user_id, d.c.platform, d.c.endpoint, d.c.token, d.c["keys"])
            .where(d.c.user_id.in_(list(user_ids)), d.c.removed_at.is_(None))
            .order_by(d.c.created_at, d.c.id)
        )
        for r in self._s.connection().execute(query):
            out[r[1]].append(
                DeviceFacts(
                    id=r[0], user_id=r[1], platform=r[2], endpoint=r[3], token=r[4], keys=r[5] or {}
                )
            )
        return out

    def same_device_elsewhere(
        self, *, platform: str, endpoint: str | None, token: str | None, user_id: uuid.UUID
    ) -> list[Device]:
        """Active registrations of the same token or endpoint by other users."""
        query = model_select(Device).where(
            Device.platform == platform,
            col(Device.user_id) != user_id,
            col(Device.removed_at).is_(None),
        )
        if token is not None:
            query = query.where(Device.token == token)
        else:
            query = query.where(Device.endpoint == endpoint)
        return list(self._s.exec(query))

    def add_device(self, device: Device) -> Device:
        self._s.add(device)
        self._s.flush()
        return device

    def device(self, user_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
        query = model_select(Device).where(
            Device.id == device_id, Device.user_id == user_id, col(Device.removed_at).is_(None)
        )
        return self._s.exec(query).first()

    def remove_devices(self, ids: Collection[str], *, reason: str, now: dt.datetime) -> None:
        if ids:
            self._s.connection().execute(
                update(_DEVICES)
                .where(
                    _DEVICES.c.id.in_([uuid.UUID(i) for i in ids]), _DEVICES.c.removed_at.is_(None)
                )
                .values(removed_at=now, removed_reason=reason)
            )

    # --- the dose API -------------------------------------------------------------

    def event(self, event_id: uuid.UUID, *, for_update: bool = False) -> DoseEvent | None:
        query = model_select(DoseEvent).where(DoseEvent.id == event_id)
        if for_update:
            query = query.with_for_update()
        return self._s.exec(query).first()

    def events_between(
        self,
        *,
        patient_id: uuid.UUID,
        start: dt.datetime,
        end: dt.datetime,
        prescription_id: uuid.UUID | None = None,
    ) -> list[DoseEvent]:
        query = (
            model_select(DoseEvent)
            .where(
                DoseEvent.patient_id == patient_id,
                col(DoseEvent.scheduled_at) >= start,
                col(DoseEvent.scheduled_at) < end,
                col(DoseEvent.status) != CANCELLED,
            )
            .order_by(col(DoseEvent.scheduled_at), col(DoseEvent.id))
        )
        if prescription_id is not None:
            query = query.where(DoseEvent.prescription_id == prescription_id)
        return list(self._s.exec(query))

    def prn_taken(
        self, prescription_id: uuid.UUID, *, since: dt.datetime, until: dt.datetime
    ) -> list[dt.datetime]:
        query = select(_EVENTS.c.scheduled_at).where(
            _EVENTS.c.prescription_id == prescription_id,
            _EVENTS.c.prn.is_(True),
            _EVENTS.c.status == TAKEN,
            _EVENTS.c.scheduled_at >= since,
            _EVENTS.c.scheduled_at <= until,
        )
        return [r[0] for r in self._s.connection().execute(query)]

    def add_event(self, event: DoseEvent) -> DoseEvent:
        self._s.add(event)
        self._s.flush()
        return event

    def save_event(self, event: DoseEvent) -> None:
        self._s.add(event)
        self._s.flush()
