"""Taper plans and their versions."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Table, func
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from service.db.batch import in_batch
from service.db.engine import begin_writing
from service.db.paging import count_rows
from service.db.tables import TaperPlan, TaperPlanVersion, TaperStepRecord, TaperSymptomReport
from service.domain import taper
from service.domain.pages import Page
from service.domain.taper.status import OPEN, UNDER_WAY, PlanStatus

_PLANS: Table = TaperPlan.__table__  # type: ignore[attr-defined]


def _locked(
    query: SelectOfScalar[TaperPlan], *, skip_locked: bool = False
) -> SelectOfScalar[TaperPlan]:
    """The query taking the plan's row lock, and the row as the lock found it (not
    a copy the session read earlier). FOR NO KEY UPDATE: rows that refer to the
    plan (versions, records) are still inserted meanwhile."""
    return query.with_for_update(skip_locked=skip_locked, key_share=True).execution_options(
        populate_existing=True
    )


@dataclass(frozen=True, kw_only=True)
class PlanTerms:
    """What the dose calendar needs of a plan under way: its current version's steps,
    its status and, when paused, since when (the pause's version, were paused_at
    ever missing)."""

    prescription_id: uuid.UUID
    status: PlanStatus
    plan: taper.TaperPlan
    paused_at: dt.datetime | None


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
            begin_writing(self._s)
        return self._s.exec(_locked(query) if for_update else query).first()

    def open_for(self, prescription_id: uuid.UUID, *, for_update: bool = False) -> TaperPlan | None:
        query = select(TaperPlan).where(
            TaperPlan.prescription_id == prescription_id, col(TaperPlan.status).in_(OPEN)
        )
        if for_update:
            begin_writing(self._s)
        return self._s.exec(_locked(query) if for_update else query).first()

    def open_plan_ids(self, prescription_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """The plan in progress (drafts included) of each of these prescriptions that
        has one, by prescription: one query for a page of prescriptions."""
        if not prescription_ids:
            return {}
        query = select(TaperPlan.prescription_id, TaperPlan.id).where(
            col(TaperPlan.prescription_id).in_(prescription_ids), col(TaperPlan.status).in_(OPEN)
        )
        return dict(self._s.exec(query).all())

    def of_patient(
        self,
        patient_id: uuid.UUID,
        *,
        prescription_id: uuid.UUID | None = None,
        limit: int,
        offset: int,
    ) -> Page[TaperPlan]:
        """The patient's plans (of one prescription, if given), newest first."""
        query = select(TaperPlan).where(TaperPlan.patient_id == patient_id)
        if prescription_id is not None:
            query = query.where(TaperPlan.prescription_id == prescription_id)
        query = query.order_by(col(TaperPlan.created_at).desc(), col(TaperPlan.id).desc())
        rows = list(self._s.exec(query.limit(limit).offset(offset)))
        return Page(rows, total=count_rows(self._s, query))

    def versions_of(
        self, plan_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, list[TaperPlanVersion]]:
        """Every version of each of these plans, oldest first, by plan: one query."""
        out: dict[uuid.UUID, list[TaperPlanVersion]] = {i: [] for i in plan_ids}
        if plan_ids:
            v = TaperPlanVersion
            query = select(v).where(col(v.plan_id).in_(plan_ids)).order_by(col(v.version))
            for version in self._s.exec(query):
                out[version.plan_id].append(version)
        return out

    def records_of(self, plan_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[TaperStepRecord]]:
        """The steps started of each of these plans, in order, by plan: one query."""
        out: dict[uuid.UUID, list[TaperStepRecord]] = {i: [] for i in plan_ids}
        if plan_ids:
            r = TaperStepRecord
            query = select(r).where(col(r.plan_id).in_(plan_ids)).order_by(col(r.step_index))
            for found in self._s.exec(query):
                out[found.plan_id].append(found)
        return out

    def reports_of(
        self, plan_ids: Collection[uuid.UUID], *, limit: int
    ) -> dict[uuid.UUID, list[TaperSymptomReport]]:
        """The latest `limit` reports of each of these plans, newest first, by plan:
        one query (numbered per plan, so a long plan's older reports are not read)."""
        out: dict[uuid.UUID, list[TaperSymptomReport]] = {i: [] for i in plan_ids}
        if not plan_ids:
            return out
        r = TaperSymptomReport
        newest = (col(r.reported_at).desc(), col(r.id))
        numbered = (
            select(
                col(r.id),
                func.row_number().over(partition_by=col(r.plan_id), order_by=newest).label("n"),
            )
            .where(col(r.plan_id).in_(plan_ids))
            .subquery()
        )
        kept = select(numbered.c.id).where(numbered.c.n <= limit)
        query = select(r).where(col(r.id).in_(kept)).order_by(*newest)
        for found in self._s.exec(query):
            out[found.plan_id].append(found)
        return out

    def versions(self, plan_id: uuid.UUID) -> list[TaperPlanVersion]:
        query = (
            select(TaperPlanVersion)
            .where(TaperPlanVersion.plan_id == plan_id)
            .order_by(col(TaperPlanVersion.version))
        )
        return list(self._s.exec(query))

    def due(self, now: dt.datetime, *, limit: int) -> list[uuid.UUID]:
        """Plans with a step to start by `now`, soonest first."""
        query = (
            select(TaperPlan.id)
            .where(col(TaperPlan.next_step_at) <= now)
            .order_by(col(TaperPlan.next_step_at))
            .limit(limit)
        )
        return list(self._s.exec(query))

    def claim(self, plan_id: uuid.UUID) -> TaperPlan | None:
        """The plan, locked for this transaction; None when another process holds it
        (it is advancing the plan) or it is gone."""
        query = select(TaperPlan).where(TaperPlan.id == plan_id)
        return self._s.exec(_locked(query, skip_locked=True)).first()

    def records(self, plan_id: uuid.UUID) -> list[TaperStepRecord]:
        query = (
            select(TaperStepRecord)
            .where(TaperStepRecord.plan_id == plan_id)
            .order_by(col(TaperStepRecord.step_index))
        )
        return list(self._s.exec(query))

    def add_record(self, record: TaperStepRecord) -> None:
        self._s.add(record)
        self._s.flush()

    def add_report(self, report: TaperSymptomReport) -> None:
        self._s.add(report)
        self._s.flush()

    def reports(self, plan_id: uuid.UUID, *, limit: int) -> list[TaperSymptomReport]:
        """The latest reports, newest first."""
        query = (
            select(TaperSymptomReport)
            .where(TaperSymptomReport.plan_id == plan_id)
            .order_by(col(TaperSymptomReport.reported_at).desc(), col(TaperSymptomReport.id))
            .limit(limit)
        )
        return list(self._s.exec(query))

    def under_way(self, patient_id: uuid.UUID) -> list[tuple[TaperPlan, TaperPlanVersion]]:
        """The patient's plans under way, each with its current version."""
        query = (
            select(TaperPlan, TaperPlanVersion)
            .join(
                TaperPlanVersion,
                (col(TaperPlanVersion.plan_id) == col(TaperPlan.id))
                & (col(TaperPlanVersion.version) == col(TaperPlan.current_version)),
            )
            .where(TaperPlan.patient_id == patient_id, col(TaperPlan.status).in_(UNDER_WAY))
        )
        return [(plan, version) for plan, version in self._s.exec(query)]

    def plans_under_way(
        self, prescription_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, PlanTerms]:
        """The plan under way of each of these prescriptions that has one, with its
        current version: one query for a whole batch of prescriptions."""
        if not prescription_ids:
            return {}
        v = TaperPlanVersion
        connection = self._s.connection()
        query = (
            core_select(
                col(TaperPlan.prescription_id),
                col(TaperPlan.status),
                col(v.plan),
                col(TaperPlan.paused_at),
                col(v.created_at),
            )
            .join(
                v,
                (col(v.plan_id) == col(TaperPlan.id))
                & (col(v.version) == col(TaperPlan.current_version)),
            )
            .where(
                in_batch(connection, _PLANS.c.prescription_id, prescription_ids),
                col(TaperPlan.status).in_(UNDER_WAY),
            )
        )
        return {
            row[0]: PlanTerms(
                prescription_id=row[0],
                status=PlanStatus(row[1]),
                plan=taper.TaperPlan.from_json(row[2]),
                paused_at=(row[3] or row[4]) if row[1] == PlanStatus.PAUSED else row[3],
            )
            for row in connection.execute(query)
        }
