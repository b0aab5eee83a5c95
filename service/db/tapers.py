"""Taper plans and their versions."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from service.db.tables import TaperPlan, TaperPlanVersion

OPEN = ("draft", "approved", "active", "paused")


class TaperRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, plan: TaperPlan, version: TaperPlanVersion) -> None:
        self._s.add(plan)
        self._s.flush()
        self._s.add(version)
        self._s.flush()

    def add_version(self, plan: TaperPlan, version: TaperPlanVersion) -> None:
        self._s.add(version)
        self._s.add(plan)
        self._s.flush()

    def get(self, plan_id: uuid.UUID, *, for_update: bool = False) -> TaperPlan | None:
        query = select(TaperPlan).where(TaperPlan.id == plan_id)
        if for_update:
            query = query.with_for_update()
        return self._s.exec(query).first()

    def open_for(self, prescription_id: uuid.UUID) -> TaperPlan | None:
        query = select(TaperPlan).where(
            TaperPlan.prescription_id == prescription_id, col(TaperPlan.status).in_(OPEN)
        )
        return self._s.exec(query).first()

    def versions(self, plan_id: uuid.UUID) -> list[TaperPlanVersion]:
        query = (
            select(TaperPlanVersion)
            .where(TaperPlanVersion.plan_id == plan_id)
            .order_by(col(TaperPlanVersion.version))
        )
        return list(self._s.exec(query))
