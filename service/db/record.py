"""The patient's record beyond prescriptions: coded conditions, products they report
taking, and the current findings of the screening of the whole record."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from service.db.engine import begin_writing
from service.db.tables import (
    Patient,
    PatientCondition,
    PatientFinding,
    Prescription,
    ReportedProduct,
)
from service.domain.prescriptions import Status


class RecordRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def serialise(self, patient_id: uuid.UUID, *, wait: bool = True) -> bool:
        """One change to a patient's record at a time, so that re-screenings do not
        race: a transaction-scoped advisory lock on PostgreSQL, SQLite's write lock
        there. Changes take it before any row lock, so the two kinds cannot deadlock;
        the scheduler does not wait for it (`wait=False`: False when it is held)."""
        begin_writing(self._s)
        if self._s.connection().dialect.name != "postgresql":
            return True
        key = int.from_bytes(patient_id.bytes[:8], "big", signed=True)
        if wait:
            self._s.exec(select(func.pg_advisory_xact_lock(key))).one()
            return True
        return bool(self._s.exec(select(func.pg_try_advisory_xact_lock(key))).one())

    def add(self, row: PatientCondition | ReportedProduct | PatientFinding) -> None:
        self._s.add(row)
        self._s.flush()

    def conditions(self, patient_id: uuid.UUID) -> list[PatientCondition]:
        """The conditions in force (not ended), oldest first."""
        query = (
            select(PatientCondition)
            .where(
                PatientCondition.patient_id == patient_id, col(PatientCondition.ended_at).is_(None)
            )
            .order_by(col(PatientCondition.recorded_at), col(PatientCondition.id))
        )
        return list(self._s.exec(query))

    def condition(self, patient_id: uuid.UUID, condition_id: uuid.UUID) -> PatientCondition | None:
        query = select(PatientCondition).where(
            PatientCondition.id == condition_id, PatientCondition.patient_id == patient_id
        )
        return self._s.exec(query).first()

    def products(self, patient_id: uuid.UUID) -> list[ReportedProduct]:
        """The products the patient still reports taking, oldest first."""
        query = (
            select(ReportedProduct)
            .where(
                ReportedProduct.patient_id == patient_id, col(ReportedProduct.ended_at).is_(None)
            )
            .order_by(col(ReportedProduct.reported_at), col(ReportedProduct.id))
        )
        return list(self._s.exec(query))

    def product(self, patient_id: uuid.UUID, product_id: uuid.UUID) -> ReportedProduct | None:
        query = select(ReportedProduct).where(
            ReportedProduct.id == product_id, ReportedProduct.patient_id == patient_id
        )
        return self._s.exec(query).first()

    def open_findings(
        self, patient_id: uuid.UUID, *, for_update: bool = False
    ) -> list[PatientFinding]:
        """Findings the latest screening still reports, most severe first."""
        query = (
            select(PatientFinding)
            .where(
                PatientFinding.patient_id == patient_id, col(PatientFinding.resolved_at).is_(None)
            )
            .order_by(col(PatientFinding.found_at), col(PatientFinding.finding_id))
        )
        if for_update:
            query = query.with_for_update()
        return list(self._s.exec(query))

    def findings_naming(self, patient_id: uuid.UUID, product_id: uuid.UUID) -> list[PatientFinding]:
        """The open findings that name the reported product among their drugs."""
        named = str(product_id)
        return [
            r
            for r in self.open_findings(patient_id)
            if any(d.get("reported_product_id") == named for d in r.detail.get("drugs", ()))
        ]

    def finding(self, patient_id: uuid.UUID, row_id: uuid.UUID) -> PatientFinding | None:
        query = (
            select(PatientFinding)
            .where(PatientFinding.id == row_id, PatientFinding.patient_id == patient_id)
            .with_for_update()
        )
        return self._s.exec(query).first()

    def due_for_screening(
        self, *, stale_before: dt.datetime, version: str, limit: int
    ) -> list[uuid.UUID]:
        """Patients taking something whose record was never screened, was screened with
        another knowledge base, or not since `stale_before` (ages change by the day)."""
        taking = select(Prescription.patient_id).where(Prescription.status != Status.DISCONTINUED)
        query = (
            select(Patient.id)
            .where(
                col(Patient.id).in_(taking),
                col(Patient.screened_at).is_(None)
                | (col(Patient.screened_with) != version)
                | (col(Patient.screened_at) < stale_before),
            )
            .order_by(col(Patient.screened_at).is_(None).desc(), col(Patient.screened_at))
            .limit(limit)
        )
        return list(self._s.exec(query))

    def touch(self, rows: Iterable[SQLModel]) -> None:
        """Write changed rows now, so that a refusal by the database surfaces here."""
        self._s.add_all(list(rows))
        self._s.flush()
