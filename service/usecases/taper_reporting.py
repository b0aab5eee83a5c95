"""Taper plans as the patient and the care team see them: the plan with its
versions, the steps the scheduler has started and the latest symptom reports, and
the plan as a chart. Every read is audited."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from service.db.tables import TaperPlan, TaperPlanVersion, TaperStepRecord, TaperSymptomReport
from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.accounts import Principal
from service.domain.prescriptions import plain_amount
from service.domain.taper.changes import current_index
from service.domain.taper.chart import Approval, chart_svg
from service.domain.taper.status import CLINICIAN_CHANGES, RUNNING, PlanChange
from service.domain.taper.symptoms import reading, scale_named
from service.usecases.access import PatientContext, load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import NotFound
from service.usecases.patient_words import reason_for

# Symptom reports shown with a plan; older ones stay stored and audited.
REPORTS_SHOWN = 20
# The changes by which a clinician answers for the flagged steps of the plan's
# current version (approve_taper_plan, step_back_taper_plan).
APPROVING = (PlanChange.APPROVE.value, PlanChange.STEP_BACK.value)


@dataclass(frozen=True, kw_only=True)
class PlanVersionView:
    version: int
    change: str
    status: str
    reason: str | None
    approved_steps: list[int]
    total_days: int
    created_by: uuid.UUID
    created_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class StepRecordView:
    step_index: int
    plan_version: int
    prescription_version: int
    daily_dose_mg: Decimal
    start_date: dt.date
    due_at: dt.datetime
    recorded_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class SymptomReportView:
    id: uuid.UUID
    step_index: int
    scale: str
    items: dict[str, int]
    total: int
    threshold: int
    hold_proposed: bool
    note: str | None
    reported_by: uuid.UUID
    reported_at: dt.datetime
    # What the scale reads in the items: red flags answered yes, items left unrated.
    red_flags: list[str]
    unrated: list[str]


@dataclass(frozen=True, kw_only=True)
class TaperPlanView:
    id: uuid.UUID
    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    drug: str
    status: str
    version: int
    current_step: int
    approved_steps: list[int]
    steps: tuple[taper.Step, ...]
    total_days: int
    warnings: list[str]
    notes: tuple[taper.Note, ...]
    settings: dict[str, Any]
    versions: list[PlanVersionView]
    step_records: list[StepRecordView]
    next_step_at: dt.datetime | None
    # The latest symptom reports, newest first; a hold is proposed while the latest
    # is at or above the plan's threshold and the plan runs on.
    symptom_reports: list[SymptomReportView]
    hold_proposed: bool


def local_today(ctx: PatientContext, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(ctx.patient.timezone)).date()


def report_view(r: TaperSymptomReport) -> SymptomReportView:
    scale = scale_named(r.scale)
    read = reading(scale, r.items) if scale is not None else None
    return SymptomReportView(
        id=r.id,
        step_index=r.step_index,
        scale=r.scale,
        items=dict(r.items),
        total=r.total,
        threshold=r.threshold,
        hold_proposed=r.hold_proposed,
        note=r.note,
        reported_by=r.reported_by,
        reported_at=r.reported_at,
        red_flags=list(read.red_flags) if read else [],
        unrated=list(read.unrated) if read else [],
    )


def _version_view(v: TaperPlanVersion) -> PlanVersionView:
    return PlanVersionView(
        version=v.version,
        change=v.change,
        status=v.status,
        reason=v.reason,
        approved_steps=list(v.approved_steps),
        total_days=int(v.plan["total_days"]),
        created_by=v.created_by,
        created_at=v.created_at,
    )


def _record_view(r: TaperStepRecord) -> StepRecordView:
    return StepRecordView(
        step_index=r.step_index,
        plan_version=r.plan_version,
        prescription_version=r.prescription_version,
        daily_dose_mg=plain_amount(Decimal(r.daily_dose_mg)),
        start_date=r.start_date,
        due_at=r.due_at,
        recorded_at=r.recorded_at,
    )


def _hold_open(
    plan: TaperPlan, versions: Sequence[TaperPlanVersion], reports: Sequence[TaperSymptomReport]
) -> bool:
    """A hold stays proposed from a report that reached the threshold until a
    clinician next changes the plan (holds, steps back, resumes...)."""
    if not reports or not reports[0].hold_proposed or plan.status not in RUNNING:
        return False
    answered = max(v.created_at for v in versions if v.change in CLINICIAN_CHANGES)
    return reports[0].reported_at > answered


def plan_view(
    plan: TaperPlan,
    versions: Sequence[TaperPlanVersion],
    planned: taper.TaperPlan,
    today: dt.date,
    records: Sequence[TaperStepRecord] = (),
    reports: Sequence[TaperSymptomReport] = (),
) -> TaperPlanView:
    """The plan as it stands: `planned` is its current (last) version's steps."""
    current = versions[-1]
    return TaperPlanView(
        id=plan.id,
        prescription_id=plan.prescription_id,
        patient_id=plan.patient_id,
        drug=plan.drug,
        status=plan.status,
        version=plan.current_version,
        current_step=current_index(planned, today),
        approved_steps=list(current.approved_steps),
        steps=planned.steps,
        total_days=planned.total_days,
        warnings=list(planned.warnings),
        notes=planned.notes,
        settings=current.settings,
        versions=[_version_view(v) for v in versions],
        step_records=[_record_view(r) for r in records],
        next_step_at=plan.next_step_at,
        symptom_reports=[report_view(r) for r in reports],
        hold_proposed=_hold_open(plan, versions, reports),
    )


def plan_shown_to(who: Principal, view: TaperPlanView) -> TaperPlanView:
    """The plan as this caller reads it: a patient gets no clinician's reason for a
    change (usecases/patient_words.py)."""
    return replace(
        view, versions=[replace(v, reason=reason_for(who, v.reason)) for v in view.versions]
    )


def readable_plan(
    uow: UnitOfWork, caller: Caller, plan_id: uuid.UUID, *, for_update: bool = False
) -> tuple[TaperPlan, PatientContext]:
    """The plan, for the patient or the care team (404 for anyone else)."""
    plan = uow.tapers.get(plan_id, for_update=for_update)
    if plan is None:
        raise NotFound(f"No taper plan {plan_id}.")
    try:
        ctx = load_readable_patient(uow, caller=caller, patient_id=plan.patient_id)
    except NotFound:
        raise NotFound(f"No taper plan {plan_id}.") from None
    return plan, ctx


def _audited_read(
    uow: UnitOfWork, caller: Caller, clock: Clock, plan_id: uuid.UUID, subtype: str
) -> tuple[TaperPlan, dt.date]:
    """The readable plan and the patient's local date; the read is audited."""
    plan, ctx = readable_plan(uow, caller, plan_id)
    record_read(
        uow,
        caller=caller,
        clock=clock,
        subtype=subtype,
        entity_type="TaperPlan",
        entity_id=plan.id,
        patient_id=plan.patient_id,
    )
    return plan, local_today(ctx, clock())


def get_taper_plan(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, plan_id: uuid.UUID
) -> TaperPlanView:
    with uow:
        plan, today = _audited_read(uow, caller, clock, plan_id, "taper.read")
        versions = uow.tapers.versions(plan.id)
        view = plan_view(
            plan,
            versions,
            taper.TaperPlan.from_json(versions[-1].plan),
            today,
            uow.tapers.records(plan.id),
            uow.tapers.reports(plan.id, limit=REPORTS_SHOWN),
        )
        return plan_shown_to(caller.require(), view)


def _approval(
    uow: UnitOfWork, versions: Sequence[TaperPlanVersion], zone: zoneinfo.ZoneInfo
) -> Approval | None:
    """Who answers for the current steps' flagged cuts, and when: the clinician who
    approved the plan, or who last stepped it back (which approves the cuts retried
    after it); None before approval."""
    answering = [v for v in versions if v.change in APPROVING]
    if not answering:
        return None
    latest = answering[-1]
    user = uow.users.get(latest.created_by)
    name = user.name if user is not None else str(latest.created_by)
    return Approval(by=name, on=latest.created_at.astimezone(zone).date())


def chart_of(uow: UnitOfWork, plan: TaperPlan, timezone: str, now: dt.datetime) -> str:
    """The plan as an SVG chart: dose over time, today (in the patient's `timezone`)
    marked, the steps already completed (started by the scheduler and ended) shaded,
    and who approved its flagged steps."""
    zone = zoneinfo.ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    versions = uow.tapers.versions(plan.id)
    planned = taper.TaperPlan.from_json(versions[-1].plan)
    ended = {s.index for s in planned.steps if s.end_date < today}
    started = {r.step_index for r in uow.tapers.records(plan.id)}
    return chart_svg(
        planned,
        today=today,
        completed_steps=len(ended & started),
        title=f"{plan.drug} taper, {plan.status}",
        approval=_approval(uow, versions, zone),
    )


def taper_chart(*, uow: UnitOfWork, caller: Caller, clock: Clock, plan_id: uuid.UUID) -> str:
    """The plan as an SVG chart, for the patient or the care team; audited."""
    with uow:
        plan, ctx = readable_plan(uow, caller, plan_id)
        svg = chart_of(uow, plan, ctx.patient.timezone, clock())
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="taper.chart",
            entity_type="TaperPlan",
            entity_id=plan.id,
            patient_id=plan.patient_id,
        )
        return svg
