"""Supply's queries: a prescription's dispenses and counts, and the doses that draw
on them."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select
from sqlmodel import Session, col
from sqlmodel import select as model_select

from service.db.tables import DoseEvent, Prescription, SupplyEntry
from service.domain.doses import OPEN, DoseStatus
from service.domain.prescriptions import Status


class DoseTaken(NamedTuple):
    """A dose as supply reads it: when it was planned and taken, and how much."""

    scheduled_at: dt.datetime
    taken_at: dt.datetime | None
    timezone: str
    slot: str | None
    dose_amount: Decimal
    dose_unit: str
    prn: bool


_DOSE_COLUMNS = (
    col(DoseEvent.scheduled_at),
    col(DoseEvent.taken_at),
    col(DoseEvent.timezone),
    col(DoseEvent.slot),
    col(DoseEvent.dose_amount),
    col(DoseEvent.dose_unit),
    col(DoseEvent.prn),
)


# How long after its time a dose logged taken still draws supply down: the read goes
# through the (prescription, time) index instead of every taken dose of the table, and
# a dose logged over a month late is left to the next count to set right.
LOGGED_WITHIN = dt.timedelta(days=31)


class SupplyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, entry: SupplyEntry) -> SupplyEntry:
        self._s.add(entry)
        self._s.flush()
        return entry

    def entries(self, prescription_id: uuid.UUID) -> list[SupplyEntry]:
        query = (
            model_select(SupplyEntry)
            .where(SupplyEntry.prescription_id == prescription_id)
            .order_by(col(SupplyEntry.effective_at), col(SupplyEntry.recorded_at))
        )
        return list(self._s.exec(query))

    def taken_since(self, prescription_id: uuid.UUID, since: dt.datetime) -> list[DoseTaken]:
        """The doses taken at or after `since`, in the order they were taken."""
        query = (
            select(*_DOSE_COLUMNS)
            .where(
                col(DoseEvent.prescription_id) == prescription_id,
                col(DoseEvent.status) == DoseStatus.TAKEN,
                col(DoseEvent.taken_at) >= since,
                col(DoseEvent.scheduled_at) >= since - LOGGED_WITHIN,
            )
            .order_by(col(DoseEvent.taken_at))
        )
        return [DoseTaken(*r) for r in self._s.connection().execute(query)]

    def open_between(
        self, prescription_id: uuid.UUID, start: dt.datetime, end: dt.datetime
    ) -> list[DoseTaken]:
        """The doses still to be taken, planned in (start, end)."""
        query = select(*_DOSE_COLUMNS).where(
            col(DoseEvent.prescription_id) == prescription_id,
            col(DoseEvent.status).in_(OPEN),
            col(DoseEvent.scheduled_at) > start,
            col(DoseEvent.scheduled_at) < end,
        )
        return [DoseTaken(*r) for r in self._s.connection().execute(query)]

    def tracked(self, *, after: uuid.UUID | None, limit: int) -> list[uuid.UUID]:
        """Prescriptions not discontinued with any supply recorded, by id, a page at a
        time (the refill check walks them all)."""
        query = (
            select(col(Prescription.id))
            .where(
                col(Prescription.status) != Status.DISCONTINUED,
                select(col(SupplyEntry.id))
                .where(col(SupplyEntry.prescription_id) == col(Prescription.id))
                .exists(),
            )
            .order_by(col(Prescription.id))
            .limit(limit)
        )
        if after is not None:
            query = query.where(col(Prescription.id) > after)
        return [r[0] for r in self._s.connection().execute(query)]
