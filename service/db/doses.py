"""Dose events: the rows the dose API reads and logs, and what follow-ups need."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, case, func, or_, select, update
from sqlmodel import Session, col
from sqlmodel import select as model_select

from service.db.batch import in_batch
from service.db.engine import begin_writing
from service.db.tables import DoseEvent, Prescription, PrescriptionVersion
from service.domain.doses import OPEN, DoseAction, DoseStatus, dose_transition
from service.domain.pages import Page

EVENTS: Table = DoseEvent.__table__  # type: ignore[attr-defined]
PRESCRIPTIONS: Table = Prescription.__table__  # type: ignore[attr-defined]
VERSIONS: Table = PrescriptionVersion.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class EventFacts:
    """What a message about a dose needs."""

    id: uuid.UUID
    prescription_id: uuid.UUID
    drug: str
    dose_amount: Any
    dose_unit: str
    scheduled_at: dt.datetime
    timezone: str
    status: str


def event_facts_columns() -> tuple[Any, ...]:
    """The dose-event columns `event_facts_of` reads, in its order."""
    e = EVENTS
    return (
        e.c.id,
        e.c.prescription_id,
        e.c.drug,
        e.c.dose_amount,
        e.c.dose_unit,
        e.c.scheduled_at,
        e.c.timezone,
        e.c.status,
    )


def event_facts_of(r: Any) -> EventFacts:
    """EventFacts from a row of `event_facts_columns()`."""
    return EventFacts(
        id=r[0],
        prescription_id=r[1],
        drug=r[2],
        dose_amount=r[3],
        dose_unit=r[4],
        scheduled_at=r[5],
        timezone=r[6],
        status=r[7],
    )


@dataclass(frozen=True, kw_only=True)
class Missed:
    id: uuid.UUID
    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    drug: str
    scheduled_at: dt.datetime
    timezone: str
    withdrawal_risk: bool


class DoseRow(NamedTuple):
    """What showing a dose needs of its row."""

    id: uuid.UUID
    prescription_id: uuid.UUID
    drug: str
    dose_amount: Decimal
    dose_unit: str
    scheduled_at: dt.datetime
    timezone: str
    status: str
    prn: bool
    taken_at: dt.datetime | None
    skip_reason: str | None
    snoozed_until: dt.datetime | None
    logged_at: dt.datetime | None
    # The prescription's current instructions ("with food"), read in the same query.
    instructions: str | None


# The current version of a dose's prescription, joined by its unique key.
_CURRENT_VERSION = EVENTS.join(PRESCRIPTIONS, PRESCRIPTIONS.c.id == EVENTS.c.prescription_id).join(
    VERSIONS,
    (VERSIONS.c.prescription_id == PRESCRIPTIONS.c.id)
    & (VERSIONS.c.version == PRESCRIPTIONS.c.current_version),
)

# Built once (see the note in repositories.py): it runs on every read of the app's
# home screen.
_ROWS_BETWEEN = (
    select(*(EVENTS.c[name] for name in DoseRow._fields[:-1]), VERSIONS.c.instructions)
    .select_from(_CURRENT_VERSION)
    .where(
        EVENTS.c.patient_id == bindparam("patient_id"),
        EVENTS.c.scheduled_at >= bindparam("start"),
        EVENTS.c.scheduled_at < bindparam("end"),
        EVENTS.c.status != DoseStatus.CANCELLED,
    )
    .order_by(EVENTS.c.scheduled_at, EVENTS.c.id)
)


class DoseRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def event(self, event_id: uuid.UUID, *, for_update: bool = False) -> DoseEvent | None:
        query = model_select(DoseEvent).where(DoseEvent.id == event_id)
        if for_update:
            begin_writing(self._s)
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
                col(DoseEvent.status) != DoseStatus.CANCELLED,
            )
            .order_by(col(DoseEvent.scheduled_at), col(DoseEvent.id))
        )
        if prescription_id is not None:
            query = query.where(DoseEvent.prescription_id == prescription_id)
        return list(self._s.exec(query))

    def rows_between(
        self, *, patient_id: uuid.UUID, start: dt.datetime, end: dt.datetime
    ) -> list[DoseRow]:
        """events_between as plain rows, for reading only: no ORM objects to build
        (the dose list and the app's home screen, every request)."""
        found = self._s.connection().execute(
            _ROWS_BETWEEN, {"patient_id": patient_id, "start": start, "end": end}
        )
        return [DoseRow._make(r) for r in found]

    def outcomes(
        self,
        *,
        patient_id: uuid.UUID,
        start: dt.datetime | None,
        end: dt.datetime | None,
        missed_before: dt.datetime,
        limit: int,
        offset: int,
    ) -> Page[DoseRow]:
        """The doses with an outcome: taken, skipped, missed, and open ones scheduled
        before `missed_before` (shown missed); by when they happened (taken: when
        taken, else when due), in [start, end), oldest first."""
        e = EVENTS
        effective = func.coalesce(e.c.taken_at, e.c.scheduled_at)
        done = (DoseStatus.TAKEN, DoseStatus.SKIPPED, DoseStatus.MISSED)
        where = [
            e.c.patient_id == patient_id,
            or_(
                e.c.status.in_(done),
                e.c.status.in_(OPEN) & (e.c.scheduled_at <= missed_before),
            ),
        ]
        if start is not None:
            where.append(effective >= start)
        if end is not None:
            where.append(effective < end)
        connection = self._s.connection()
        total = connection.execute(select(func.count()).select_from(e).where(*where)).scalar()
        query = (
            select(*(e.c[name] for name in DoseRow._fields[:-1]), VERSIONS.c.instructions)
            .select_from(_CURRENT_VERSION)
            .where(*where)
            .order_by(effective, e.c.id)
            .limit(limit)
            .offset(offset)
        )
        rows = [DoseRow._make(r) for r in connection.execute(query)]
        return Page(rows, total=int(total or 0))

    def instructions(self, rx_id: uuid.UUID) -> str | None:
        """The prescription's current instructions, for a dose shown on its own."""
        query = (
            select(VERSIONS.c.instructions)
            .select_from(
                PRESCRIPTIONS.join(
                    VERSIONS,
                    (VERSIONS.c.prescription_id == PRESCRIPTIONS.c.id)
                    & (VERSIONS.c.version == PRESCRIPTIONS.c.current_version),
                )
            )
            .where(PRESCRIPTIONS.c.id == rx_id)
        )
        found: str | None = self._s.connection().execute(query).scalar()
        return found

    def prn_taken(
        self, prescription_id: uuid.UUID, *, since: dt.datetime, until: dt.datetime
    ) -> list[dt.datetime]:
        query = select(EVENTS.c.scheduled_at).where(
            EVENTS.c.prescription_id == prescription_id,
            EVENTS.c.prn.is_(True),
            EVENTS.c.status == DoseStatus.TAKEN,
            EVENTS.c.scheduled_at >= since,
            EVENTS.c.scheduled_at <= until,
        )
        return [r[0] for r in self._s.connection().execute(query)]

    def add_event(self, event: DoseEvent) -> DoseEvent:
        self._s.add(event)
        self._s.flush()
        return event

    def save_event(self, event: DoseEvent) -> None:
        self._s.add(event)
        self._s.flush()

    def event_facts(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, EventFacts]:
        """What a message about each dose needs, as plain rows (a batch is hundreds)."""
        if not ids:
            return {}
        connection = self._s.connection()
        query = select(*event_facts_columns()).where(
            in_batch(connection, EVENTS.c.id, ids, name="ids")
        )
        return {r[0]: event_facts_of(r) for r in connection.execute(query).all()}

    def mark_reminded(self, ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        if not ids:
            return
        # Only the key in WHERE, so every engine finds the rows by primary key
        # (SQLite otherwise walks the status index); the CASE keeps logged doses.
        e = EVENTS
        pending = e.c.status == DoseStatus.PENDING
        reminded = dose_transition(DoseStatus.PENDING, DoseAction.REMIND)
        connection = self._s.connection()
        connection.execute(
            update(e)
            .where(in_batch(connection, e.c.id, ids, name="ids"))
            .values(
                status=case((pending, reminded.value), else_=e.c.status),
                updated_at=case((pending, now), else_=e.c.updated_at),
            )
        )

    def mark_missed(self, *, scheduled_before: dt.datetime, now: dt.datetime) -> list[Missed]:
        """Open doses whose time is long past become missed; returns them.

        One UPDATE ... RETURNING: of two schedulers doing this at once, the second
        waits for the first's row locks, re-reads the rows, and finds them missed.
        """
        e = EVENTS
        stmt = (
            update(e)
            .where(
                e.c.status.in_(OPEN),
                e.c.prn.is_(False),
                e.c.scheduled_at <= scheduled_before,
            )
            .values(status=DoseStatus.MISSED, updated_at=now)
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
        missed = [_missed(r) for r in rows]
        missed.sort(key=lambda m: (m.scheduled_at, str(m.id)))
        return missed

    def statuses_of(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        p = PRESCRIPTIONS
        connection = self._s.connection()
        query = select(p.c.id, p.c.status).where(in_batch(connection, p.c.id, ids))
        return {r[0]: r[1] for r in connection.execute(query)}

    def recent_outcomes(
        self, prescription_id: uuid.UUID, *, until: dt.datetime, n: int
    ) -> list[str]:
        """Statuses of the last `n` scheduled doses at or before `until`, newest first."""
        query = (
            select(EVENTS.c.status)
            .where(
                EVENTS.c.prescription_id == prescription_id,
                EVENTS.c.prn.is_(False),
                EVENTS.c.status != DoseStatus.CANCELLED,
                EVENTS.c.scheduled_at <= until,
            )
            .order_by(EVENTS.c.scheduled_at.desc())
            .limit(n)
        )
        return [r[0] for r in self._s.connection().execute(query)]

    def skipped_not_notified(
        self, *, scheduled_after: dt.datetime, scheduled_before: dt.datetime
    ) -> list[Missed]:
        """Skipped scheduled doses of withdrawal-risk drugs in (after, before] that no
        care-team alert has named yet, oldest first."""
        e = EVENTS
        query = (
            select(
                e.c.id,
                e.c.prescription_id,
                e.c.patient_id,
                e.c.drug,
                e.c.scheduled_at,
                e.c.timezone,
                e.c.withdrawal_risk,
            )
            .where(
                e.c.status == DoseStatus.SKIPPED,
                e.c.scheduled_at > scheduled_after,
                e.c.scheduled_at <= scheduled_before,
                e.c.prn.is_(False),
                e.c.withdrawal_risk.is_(True),
                e.c.care_team_notified_at.is_(None),
            )
            .order_by(e.c.scheduled_at, e.c.id)
        )
        return [_missed(r) for r in self._s.connection().execute(query)]

    def mark_care_team_notified(self, ids: Collection[uuid.UUID], *, now: dt.datetime) -> None:
        if ids:
            connection = self._s.connection()
            connection.execute(
                update(EVENTS)
                .where(in_batch(connection, EVENTS.c.id, ids))
                .values(care_team_notified_at=now, updated_at=now)
            )


def _missed(r: Any) -> Missed:
    """A row of (id, prescription, patient, drug, scheduled_at, zone, withdrawal risk)."""
    return Missed(
        id=r[0],
        prescription_id=r[1],
        patient_id=r[2],
        drug=r[3],
        scheduled_at=r[4],
        timezone=r[5],
        withdrawal_risk=r[6],
    )
