"""Prescriptions, their versions and the findings raised when they were written."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable

from sqlmodel import Session, col, select

from service.db.engine import begin_writing
from service.db.paging import count_rows
from service.db.tables import Prescription, PrescriptionFinding, PrescriptionVersion
from service.domain.pages import Page
from service.domain.prescriptions import Status

# A prescription joined to the version that holds its terms now.
_CURRENT_VERSION = (col(PrescriptionVersion.prescription_id) == col(Prescription.id)) & (
    col(PrescriptionVersion.version) == col(Prescription.current_version)
)


class PrescriptionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, rx: Prescription, version: PrescriptionVersion) -> None:
        self._s.add(rx)
        self._s.flush()
        self._s.add(version)
        self._s.flush()

    def add_version(self, rx: Prescription, version: PrescriptionVersion) -> None:
        self._s.add(version)
        self._s.add(rx)
        self._s.flush()

    def get(
        self, *, patient_id: uuid.UUID, rx_id: uuid.UUID, for_update: bool = False
    ) -> Prescription | None:
        query = select(Prescription).where(
            Prescription.id == rx_id, Prescription.patient_id == patient_id
        )
        if for_update:
            begin_writing(self._s)
            query = query.with_for_update().execution_options(populate_existing=True)
        return self._s.exec(query).first()

    def patient_of(self, rx_id: uuid.UUID) -> uuid.UUID | None:
        return self._s.exec(select(Prescription.patient_id).where(Prescription.id == rx_id)).first()

    def claim(self, rx_id: uuid.UUID) -> Prescription | None:
        """The prescription, locked for this transaction (FOR NO KEY UPDATE, so rows
        referring to it can still be inserted); None while another transaction
        holds it."""
        query = (
            select(Prescription)
            .where(Prescription.id == rx_id)
            .with_for_update(skip_locked=True, key_share=True)
            .execution_options(populate_existing=True)
        )
        return self._s.exec(query).first()

    def version(self, rx_id: uuid.UUID, number: int) -> PrescriptionVersion:
        query = select(PrescriptionVersion).where(
            PrescriptionVersion.prescription_id == rx_id, PrescriptionVersion.version == number
        )
        return self._s.exec(query).one()

    def list_current(
        self, *, patient_id: uuid.UUID, status: str | None, limit: int, offset: int
    ) -> Page[tuple[Prescription, PrescriptionVersion]]:
        query = (
            select(Prescription, PrescriptionVersion)
            .join(PrescriptionVersion, _CURRENT_VERSION)
            .where(Prescription.patient_id == patient_id)
            .order_by(col(Prescription.created_at), col(Prescription.id))
        )
        if status is not None:
            query = query.where(Prescription.status == status)
        rows = [(rx, v) for rx, v in self._s.exec(query.limit(limit).offset(offset))]
        return Page(rows, total=count_rows(self._s, query))

    def regimen(self, patient_id: uuid.UUID) -> list[tuple[Prescription, PrescriptionVersion]]:
        """Current versions of every prescription not discontinued (paused ones resume)."""
        query = (
            select(Prescription, PrescriptionVersion)
            .join(PrescriptionVersion, _CURRENT_VERSION)
            .where(
                Prescription.patient_id == patient_id, Prescription.status != Status.DISCONTINUED
            )
            .order_by(col(Prescription.created_at), col(Prescription.id))
        )
        return [(rx, v) for rx, v in self._s.exec(query)]

    def due_to_resume(self, by: dt.date) -> list[uuid.UUID]:
        """Paused prescriptions whose pause names a resume date on or before `by`."""
        query = (
            select(Prescription.id)
            .join(PrescriptionVersion, _CURRENT_VERSION)
            .where(
                Prescription.status == Status.PAUSED,
                col(PrescriptionVersion.resume_on).is_not(None),
                col(PrescriptionVersion.resume_on) <= by,
            )
            .order_by(col(PrescriptionVersion.resume_on))
        )
        return list(self._s.exec(query))

    def add_findings(self, findings: Iterable[PrescriptionFinding]) -> None:
        self._s.add_all(list(findings))
        self._s.flush()

    def findings(self, rx_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[PrescriptionFinding]]:
        """Stored findings of several prescriptions in one query, by prescription."""
        out: dict[uuid.UUID, list[PrescriptionFinding]] = {i: [] for i in rx_ids}
        if not rx_ids:
            return out
        query = (
            select(PrescriptionFinding)
            .where(col(PrescriptionFinding.prescription_id).in_(rx_ids))
            .order_by(col(PrescriptionFinding.created_at), col(PrescriptionFinding.finding_id))
        )
        for f in self._s.exec(query):
            out[f.prescription_id].append(f)
        return out

    def versions_since(self, rx_id: uuid.UUID, since: dt.datetime) -> list[PrescriptionVersion]:
        """The versions in force at some time from `since` on (the one in force then,
        and every later one), oldest first."""
        mine = PrescriptionVersion.prescription_id == rx_id
        before = (
            select(col(PrescriptionVersion.version))
            .where(mine, col(PrescriptionVersion.created_at) < since)
            .order_by(col(PrescriptionVersion.version).desc())
            .limit(1)
        )
        first = self._s.exec(before).first() or 1
        query = (
            select(PrescriptionVersion)
            .where(mine, col(PrescriptionVersion.version) >= first)
            .order_by(col(PrescriptionVersion.version))
        )
        return list(self._s.exec(query))

    def versions(
        self, rx_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> Page[PrescriptionVersion]:
        query = (
            select(PrescriptionVersion)
            .where(PrescriptionVersion.prescription_id == rx_id)
            .order_by(col(PrescriptionVersion.version))
        )
        rows = list(self._s.exec(query.offset(offset).limit(limit)))
        return Page(rows, total=count_rows(self._s, query))
