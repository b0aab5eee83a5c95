"""The changes of a patient's record, read from their audit chain in chain order."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from service.db.audit import AUDIT_EVENTS
from service.db.tables import TaperPlan
from service.domain.audit import AuditAction, AuditOutcome
from service.domain.audit_chain import chain_of

_E = AUDIT_EVENTS.c
# The audit entries that change what a patient sees of their record.
CHANGING = (AuditAction.CREATE.value, AuditAction.UPDATE.value)
ENTITIES = ("Prescription", "DoseEvent", "TaperPlan", "PatientFinding", "Patient")
RESCREEN = "patient.rescreen"


class ChangesRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def after(self, patient_id: uuid.UUID, *, seq: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` changing entries of the patient's chain after place `seq`,
        in chain order (which is commit order: see service.usecases.changes)."""
        query = (
            select(
                _E.chain_seq,
                _E.recorded,
                _E.action,
                _E.subtype,
                _E.entity_type,
                _E.entity_id,
                _E.after,
            )
            .where(
                _E.chain_key == chain_of(patient_id),
                _E.chain_seq > seq,
                _E.action.in_(CHANGING),
                _E.outcome == AuditOutcome.SUCCESS.value,
                _E.entity_type.in_(ENTITIES),
                (_E.entity_type != "Patient") | (_E.subtype == RESCREEN),
            )
            .order_by(_E.chain_seq)
            .limit(limit)
        )
        return [dict(row) for row in self._s.connection().execute(query).mappings()]

    def prescriptions_of_plans(self, plan_ids: set[str]) -> dict[str, str]:
        """The prescription of each taper plan (whose view names its open plan)."""
        ids = [uuid.UUID(p) for p in plan_ids]
        if not ids:
            return {}
        rows = self._s.connection().execute(
            select(col(TaperPlan.id), col(TaperPlan.prescription_id)).where(
                col(TaperPlan.id).in_(ids)
            )
        )
        return {str(plan): str(rx) for plan, rx in rows}
