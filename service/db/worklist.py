"""The worklist's queries: what a clinician's care-team patients need, each kind of
item newest first and bounded, with the items marked done left out in the database;
and the marks themselves.

Every query starts from the clinician's care team (`_team`: the patients whose care
team they are on now), so that a clinician with a thousand patients reads only the
rows that can become items, through the tables' patient and status indexes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlmodel import Session, col

from service.db.batch import in_batch
from service.db.tables import (
    CareTeamMember,
    DoseEvent,
    Enrolment,
    Patient,
    PatientFinding,
    TaperPlan,
    TaperPlanVersion,
    TaperSymptomReport,
    User,
    WorklistMark,
)

# A query of any columns.
Rows = Select[*tuple[Any, ...]]


class FindingRow(NamedTuple):
    id: uuid.UUID
    patient_id: uuid.UUID
    kind: str
    severity: str
    detail: dict[str, Any]
    found_at: dt.datetime
    name: str
    timezone: str


class DoseRow(NamedTuple):
    id: uuid.UUID
    patient_id: uuid.UUID
    drug: str
    dose_amount: Decimal
    dose_unit: str
    scheduled_at: dt.datetime
    status: str
    skip_reason: str | None
    name: str
    timezone: str


class ReportRow(NamedTuple):
    id: uuid.UUID
    plan_id: uuid.UUID
    patient_id: uuid.UUID
    step_index: int
    scale: str
    items: dict[str, int]
    total: int
    threshold: int
    hold_proposed: bool
    reported_at: dt.datetime
    drug: str
    name: str
    timezone: str


class PlanRow(NamedTuple):
    id: uuid.UUID
    patient_id: uuid.UUID
    drug: str
    status: str
    created_at: dt.datetime
    plan: dict[str, Any]
    name: str
    timezone: str


class EnrolmentRow(NamedTuple):
    id: uuid.UUID
    email: str
    patient_id: uuid.UUID | None
    created_at: dt.datetime
    expires_at: dt.datetime


def _team(clinician_id: uuid.UUID) -> Select[uuid.UUID]:
    return select(col(CareTeamMember.patient_id)).where(
        col(CareTeamMember.clinician_id) == clinician_id,
        col(CareTeamMember.removed_at).is_(None),
    )


def _not_done(kind: str, subject: Any) -> ColumnElement[bool]:
    """No mark for the item of `kind` about `subject` (a column)."""
    m = WorklistMark
    return ~exists().where(col(m.subject_id) == subject, col(m.kind) == kind)


def _named(query: Rows, patient_id: Any) -> Rows:
    """The query joined to the patient's record and account, for a name and a zone."""
    return query.join(Patient, col(Patient.id) == patient_id).join(
        User, col(User.id) == col(Patient.user_id)
    )


class WorklistRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def _rows(self, query: Rows) -> list[Any]:
        return list(self._s.connection().execute(query))

    def findings(
        self, clinician_id: uuid.UUID, *, severities: Collection[str], limit: int
    ) -> list[FindingRow]:
        """Findings of the record's latest screening that no one has acknowledged."""
        f = PatientFinding
        query = _named(
            select(
                col(f.id),
                col(f.patient_id),
                col(f.kind),
                col(f.severity),
                col(f.detail),
                col(f.found_at),
                col(User.name),
                col(Patient.timezone),
            ),
            col(f.patient_id),
        ).where(
            col(f.patient_id).in_(_team(clinician_id)),
            col(f.resolved_at).is_(None),
            col(f.acknowledged_at).is_(None),
            col(f.severity).in_(list(severities)),
            _not_done("finding", col(f.id)),
        )
        query = query.order_by(col(f.found_at).desc(), col(f.id)).limit(limit)
        return [FindingRow._make(r) for r in self._rows(query)]

    def doses(
        self,
        clinician_id: uuid.UUID,
        *,
        since: dt.datetime,
        logged: Collection[str],
        open_: Collection[str],
        open_before: dt.datetime,
        limit: int,
    ) -> list[DoseRow]:
        """Scheduled doses of withdrawal-risk drugs since `since` with a status in
        `logged`, or in `open_` and due by `open_before`."""
        e = DoseEvent
        query = _named(
            select(
                col(e.id),
                col(e.patient_id),
                col(e.drug),
                col(e.dose_amount),
                col(e.dose_unit),
                col(e.scheduled_at),
                col(e.status),
                col(e.skip_reason),
                col(User.name),
                col(Patient.timezone),
            ),
            col(e.patient_id),
        ).where(
            col(e.patient_id).in_(_team(clinician_id)),
            col(e.withdrawal_risk).is_(True),
            col(e.prn).is_(False),
            col(e.scheduled_at) >= since,
            or_(
                col(e.status).in_(list(logged)),
                and_(col(e.status).in_(list(open_)), col(e.scheduled_at) <= open_before),
            ),
            _not_done("dose", col(e.id)),
        )
        query = query.order_by(col(e.scheduled_at).desc(), col(e.id)).limit(limit)
        return [DoseRow._make(r) for r in self._rows(query)]

    def symptom_reports(
        self, clinician_id: uuid.UUID, *, since: dt.datetime, limit: int
    ) -> list[ReportRow]:
        """Withdrawal self-reports made since `since`, newest first."""
        r = TaperSymptomReport
        query = _named(
            select(
                col(r.id),
                col(r.plan_id),
                col(r.patient_id),
                col(r.step_index),
                col(r.scale),
                col(r.items),
                col(r.total),
                col(r.threshold),
                col(r.hold_proposed),
                col(r.reported_at),
                col(TaperPlan.drug),
                col(User.name),
                col(Patient.timezone),
            ).join(TaperPlan, col(TaperPlan.id) == col(r.plan_id)),
            col(r.patient_id),
        ).where(
            col(r.patient_id).in_(_team(clinician_id)),
            col(r.reported_at) >= since,
            _not_done("symptom", col(r.id)),
        )
        query = query.order_by(col(r.reported_at).desc(), col(r.id)).limit(limit)
        return [ReportRow._make(row) for row in self._rows(query)]

    def plans(
        self,
        clinician_id: uuid.UUID,
        *,
        statuses: Collection[str],
        next_step_by: dt.datetime | None = None,
        not_done: str | None = None,
        limit: int,
    ) -> list[PlanRow]:
        """Plans in `statuses`, each with its current version's steps: newest first,
        or, given `next_step_by`, those with a step due by then, soonest first.
        `not_done` leaves out the plans marked done as items of that kind."""
        p, v = TaperPlan, TaperPlanVersion
        query = _named(
            select(
                col(p.id),
                col(p.patient_id),
                col(p.drug),
                col(p.status),
                col(p.created_at),
                col(v.plan),
                col(User.name),
                col(Patient.timezone),
            ).join(v, (col(v.plan_id) == col(p.id)) & (col(v.version) == col(p.current_version))),
            col(p.patient_id),
        ).where(col(p.patient_id).in_(_team(clinician_id)), col(p.status).in_(list(statuses)))
        if not_done is not None:
            query = query.where(_not_done(not_done, col(p.id)))
        if next_step_by is not None:
            query = query.where(col(p.next_step_at) <= next_step_by)
            query = query.order_by(col(p.next_step_at), col(p.id))
        else:
            query = query.order_by(col(p.created_at).desc(), col(p.id))
        return [PlanRow._make(r) for r in self._rows(query.limit(limit))]

    def enrolments_waiting(
        self, clinician_id: uuid.UUID, *, made_before: dt.datetime, limit: int
    ) -> list[EnrolmentRow]:
        """The clinician's own enrolments not yet accepted, made before `made_before`."""
        e = Enrolment
        query = (
            select(col(e.id), col(e.email), col(e.patient_id), col(e.created_at), col(e.expires_at))
            .where(
                col(e.clinician_id) == clinician_id,
                col(e.accepted_at).is_(None),
                col(e.created_at) <= made_before,
                _not_done("activation", col(e.id)),
            )
            .order_by(col(e.created_at).desc(), col(e.id))
            .limit(limit)
        )
        return [EnrolmentRow._make(r) for r in self._rows(query)]

    def marked(self, keys: Collection[str]) -> set[str]:
        """Which of these item keys are marked done."""
        if not keys:
            return set()
        connection = self._s.connection()
        m = WorklistMark.__table__.c  # type: ignore[attr-defined]
        query = select(m.item_key).where(in_batch(connection, m.item_key, keys, name="keys"))
        return {r[0] for r in connection.execute(query)}

    def mark_of(self, key: str) -> WorklistMark | None:
        query = select(WorklistMark).where(col(WorklistMark.item_key) == key)
        return self._s.execute(query).scalars().first()

    def add_mark(self, mark: WorklistMark) -> None:
        self._s.add(mark)
        self._s.flush()

    def finding_patient(self, finding_id: uuid.UUID) -> uuid.UUID | None:
        """The patient whose record holds this finding (by its row id)."""
        query = select(col(PatientFinding.patient_id)).where(col(PatientFinding.id) == finding_id)
        return self._s.execute(query).scalar_one_or_none()

    def report_patient(self, report_id: uuid.UUID) -> uuid.UUID | None:
        r = TaperSymptomReport
        query = select(col(r.patient_id)).where(col(r.id) == report_id)
        return self._s.execute(query).scalar_one_or_none()

    def enrolment(self, enrolment_id: uuid.UUID) -> Enrolment | None:
        return self._s.get(Enrolment, enrolment_id)
