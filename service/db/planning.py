"""Dose planning: which prescriptions need doses planned, their current terms, and
writing (or withdrawing) the planned doses."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
import zoneinfo
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlmodel import Session, col

from service.db.batch import in_batch
from service.db.doses import EVENTS, PRESCRIPTIONS
from service.db.outbox import OUTBOX, insert_for
from service.db.tables import Patient, Prescription, PrescriptionVersion
from service.domain.doses import DoseAction, DoseStatus, dose_transition
from service.domain.messages import MessageStatus
from service.domain.prescriptions import Status

# Rows per executemany call, to bound the memory of one call.
_BATCH = 5000

# What planning writes of a dose, with each column's PostgreSQL type. There, a batch
# of planned doses is one INSERT ... SELECT FROM unnest(one array per column, sent in
# binary): one statement per batch instead of one per row, and no per-row parameter
# processing in SQLAlchemy.
_PLANNED_COLUMNS = (
    ("id", "uuid"),
    ("prescription_id", "uuid"),
    ("patient_id", "uuid"),
    ("version", "int"),
    ("scheduled_at", "timestamptz"),
    ("timezone", "text"),
    ("slot", "text"),
    ("drug", "text"),
    ("dose_amount", "numeric"),
    ("dose_unit", "text"),
    ("withdrawal_risk", "bool"),
    ("prn", "bool"),
    ("status", "text"),
    ("snoozes", "int"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)
_UTC_COLUMNS = [c for c, t in _PLANNED_COLUMNS if t == "timestamptz"]
_COLUMN_LIST = ", ".join(c for c, _ in _PLANNED_COLUMNS)
_ARRAYS = ", ".join(f"%({c})b::{t}[]" for c, t in _PLANNED_COLUMNS)
# Built from the constants above only.
_INSERT_PLANNED_PG = (
    f"INSERT INTO {EVENTS.name} ({_COLUMN_LIST}) SELECT * FROM unnest({_ARRAYS}) "  # noqa: S608
    "ON CONFLICT (prescription_id, scheduled_at) DO NOTHING"
)


def _is_active(dialect: str, *, one_patient: bool) -> ColumnElement[bool]:
    """The prescription is active. For one patient's, on SQLite, marked as true of
    most rows: without statistics SQLite would otherwise walk the status index (every
    active prescription of every patient, on each read of a patient's doses) rather
    than the patient's."""
    active = PRESCRIPTIONS.c.status == Status.ACTIVE
    if one_patient and dialect == "sqlite":
        return func.likelihood(active, literal_column("0.9"))
    return active


@functools.cache
def _to_plan(dialect: str, *, one_patient: bool) -> Select[uuid.UUID]:
    """Active prescriptions not planned up to :until (of :patient_id's only, with
    `one_patient`). Built once per kind: it runs on every read of a patient's doses,
    and building the statement cost more than running it."""
    p = PRESCRIPTIONS
    query = select(p.c.id).where(
        _is_active(dialect, one_patient=one_patient),
        or_(p.c.planned_until.is_(None), p.c.planned_until < bindparam("until")),
    )
    if one_patient:
        query = query.where(p.c.patient_id == bindparam("patient_id"))
    return query.order_by(p.c.id)


@dataclass(frozen=True, kw_only=True)
class ActiveSchedule:
    """What planning needs of one active prescription."""

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


def _active_terms(dialect: str, *, one_patient: bool) -> Select[Any]:
    """Each active prescription with its current version and its patient's zone, in
    the order `_active_schedule` reads them."""
    v = PrescriptionVersion
    return (
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
        .where(_is_active(dialect, one_patient=one_patient))
        .order_by(col(Prescription.id))
    )


def _active_schedule(row: Any) -> ActiveSchedule:
    """ActiveSchedule from a row of `_active_terms`."""
    return ActiveSchedule(
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


class PlanningRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def prescriptions_to_plan(
        self, *, until: dt.datetime, patient_id: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """Active prescriptions not yet planned up to `until`."""
        connection = self._s.connection()
        query = _to_plan(connection.dialect.name, one_patient=patient_id is not None)
        params: dict[str, Any] = {"until": until}
        if patient_id is not None:
            params["patient_id"] = patient_id
        found = connection.execute(query, params)
        return [r[0] for r in found]

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
        connection = self._s.connection()
        query = _active_terms(connection.dialect.name, one_patient=patient_id is not None)
        if ids is not None:
            # With the range the ids span too (a chunk of sorted ids spans a narrow
            # one), PostgreSQL finds the rows by index; with the ids alone it scanned
            # all three tables whole for every chunk, ever slower as they grow.
            wanted = list(ids)
            query = query.where(
                in_batch(connection, PRESCRIPTIONS.c.id, wanted),
                col(Prescription.id).between(min(wanted), max(wanted)) if wanted else true(),
            )
        if patient_id is not None:
            query = query.where(col(Prescription.patient_id) == patient_id)
        if lock:
            query = query.with_for_update(read=True, of=PRESCRIPTIONS)
        return [_active_schedule(row) for row in self._s.connection().execute(query)]

    def insert_events(self, rows: Sequence[dict[str, Any]], *, revive: bool = False) -> None:
        """Insert planned doses; one already planned at the same instant is left as
        it is. With `revive` (only from the transaction that changed the terms, which
        holds the prescription's lock) a withdrawn one is planned anew instead."""
        if not rows:
            return
        connection = self._s.connection()
        if not revive and connection.dialect.name == "postgresql":
            for start in range(0, len(rows), _BATCH):
                batch = rows[start : start + _BATCH]
                if any(r[c].tzinfo is None for r in batch for c in _UTC_COLUMNS):
                    raise ValueError("naive datetime given for a UTC column")
                columns = {c: [r[c] for r in batch] for c, _ in _PLANNED_COLUMNS}
                connection.exec_driver_sql(_INSERT_PLANNED_PG, columns)
            return
        stmt = insert_for(self._s)(EVENTS)
        if revive:
            renewed = ("version", "timezone", "slot", "drug", "dose_amount", "dose_unit")
            stmt = stmt.on_conflict_do_update(
                index_elements=["prescription_id", "scheduled_at"],
                set_={
                    **{c: stmt.excluded[c] for c in renewed},
                    "withdrawal_risk": stmt.excluded.withdrawal_risk,
                    "status": DoseStatus.PENDING.value,
                    "snoozes": 0,
                    "snoozed_until": None,
                    "updated_at": stmt.excluded.updated_at,
                },
                where=EVENTS.c.status == DoseStatus.CANCELLED,
            )
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["prescription_id", "scheduled_at"])
        for start in range(0, len(rows), _BATCH):
            connection.execute(stmt, list(rows[start : start + _BATCH]))

    def set_planned_until(self, ids: Collection[uuid.UUID], until: dt.datetime) -> None:
        if ids:
            connection = self._s.connection()
            connection.execute(
                update(PRESCRIPTIONS)
                .where(in_batch(connection, PRESCRIPTIONS.c.id, ids))
                .values(planned_until=until)
            )

    def set_plan_from(self, patient_id: uuid.UUID, at: dt.datetime) -> None:
        """Doses of this patient's prescriptions are not planned before `at` again."""
        self._s.connection().execute(
            update(PRESCRIPTIONS)
            .where(PRESCRIPTIONS.c.patient_id == patient_id)
            .values(plan_from=at)
        )

    def logged_slots(
        self, patient_id: uuid.UUID, *, since: dt.datetime
    ) -> set[tuple[uuid.UUID, dt.date, str]]:
        """(prescription, local day, slot) of the patient's doses since `since` that
        stand (not withdrawn), each day in the zone it was planned in."""
        e = EVENTS
        query = select(e.c.prescription_id, e.c.scheduled_at, e.c.timezone, e.c.slot).where(
            e.c.patient_id == patient_id,
            e.c.scheduled_at >= since,
            e.c.status != DoseStatus.CANCELLED,
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
        e = EVENTS
        cancelled = dose_transition(DoseStatus.PENDING, DoseAction.CANCEL).value
        where = [e.c.scheduled_at > after, e.c.status == DoseStatus.PENDING, e.c.prn.is_(False)]
        rx_where = []
        if patient_id is not None:
            where.append(e.c.patient_id == patient_id)
            rx_where.append(PRESCRIPTIONS.c.patient_id == patient_id)
        if prescription_id is not None:
            where.append(e.c.prescription_id == prescription_id)
            rx_where.append(PRESCRIPTIONS.c.id == prescription_id)
        connection = self._s.connection()
        withdrawn = [
            r[0]
            for r in connection.execute(
                update(e).where(*where).values(status=cancelled, updated_at=now).returning(e.c.id)
            )
        ]
        if withdrawn:
            connection.execute(
                update(OUTBOX)
                .where(
                    in_batch(connection, OUTBOX.c.dose_event_id, withdrawn),
                    OUTBOX.c.status == MessageStatus.PENDING,
                )
                .values(status=MessageStatus.CANCELLED.value, updated_at=now)
            )
        connection.execute(update(PRESCRIPTIONS).where(*rx_where).values(planned_until=after))
        return withdrawn
