"""Withdrawal self-reports during a taper: the patient (or a clinician on the care
team, for them) rates a short scale; at or above the plan's threshold a hold is
proposed and the care team is told. A report never changes a dose."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.db.outbox import queued
from service.db.tables import TaperPlan, TaperSymptomReport
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.interactions import KnowledgeBase
from service.domain.taper.status import RUNNING
from service.domain.taper.symptoms import CLOSED_TO_REPORTS, Scale, scale_for, score
from service.usecases.access import PatientContext
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, domain_rules
from service.usecases.reminders import TAPER_SYMPTOMS
from service.usecases.taper_reporting import SymptomReportView, readable_plan, report_view

MAX_LISTED = 200


@dataclass(frozen=True, kw_only=True)
class SymptomReports:
    scale: Scale
    threshold: int
    reports: list[SymptomReportView]


def plan_scale(kb: KnowledgeBase, drug_id: str, settings: Mapping[str, Any]) -> tuple[Scale, int]:
    """The plan's scale (from its drug's classes) and threshold (the clinician's, or
    the scale's default)."""
    drug = kb.catalog.drugs.get(drug_id)
    scale = scale_for(drug.classes if drug is not None else ())
    return scale, int(settings.get("symptom_threshold") or scale.default_threshold)


def _care_team_rows(
    plan: TaperPlan, report: TaperSymptomReport, scale: Scale, ctx: PatientContext, now: dt.datetime
) -> list[dict[str, Any]]:
    advice = (
        "Consider holding the current dose."
        if report.hold_proposed
        else f"The plan is {plan.status}."
    )
    payload = {
        "title": "Withdrawal symptoms reported",
        "body": (
            f"{plan.drug} taper, step {report.step_index}: {scale.name} {report.total} of "
            f"{scale.max_total} (threshold {report.threshold}). {advice}"
        ),
        "data": {
            "plan_id": str(plan.id),
            "report_id": str(report.id),
            "patient_id": str(plan.patient_id),
            "total": report.total,
            "threshold": report.threshold,
        },
    }
    return [
        queued(
            key=f"{TAPER_SYMPTOMS}:{report.id}:{clinician}",
            kind=TAPER_SYMPTOMS,
            recipient_id=clinician,
            patient_id=plan.patient_id,
            dose_event_id=None,
            due_at=now,
            now=now,
            payload=payload,
        )
        for clinician in ctx.care_team
    ]


def _audit_report(
    uow: UnitOfWork,
    caller: Caller,
    now: dt.datetime,
    plan: TaperPlan,
    report: TaperSymptomReport,
) -> None:
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="taper.symptom-report",
        entity_type="TaperPlan",
        entity_id=plan.id,
        patient_id=plan.patient_id,
        after={
            "report": report.id,
            "scale": report.scale,
            "total": report.total,
            "threshold": report.threshold,
            "hold_proposed": report.hold_proposed,
        },
    )


def report_symptoms(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    plan_id: uuid.UUID,
    items: Mapping[str, int],
    total: int | None,
    note: str | None,
) -> SymptomReportView:
    now = clock()
    with uow:
        plan, ctx = readable_plan(uow, caller, plan_id, for_update=True)
        if plan.status in CLOSED_TO_REPORTS:
            raise Conflict(
                f"This plan is {plan.status}; symptoms are reported once it is approved."
            )
        current = uow.tapers.versions(plan.id)[-1]
        scale, threshold = plan_scale(kb, plan.drug, current.settings)
        with domain_rules(f"The report does not fit the {scale.id} scale."):
            computed = score(scale, items, total)
        started = [r.step_index for r in uow.tapers.records(plan.id)]
        reached = computed >= threshold
        report = TaperSymptomReport(
            plan_id=plan.id,
            patient_id=plan.patient_id,
            step_index=max(started, default=0),
            scale=scale.id,
            items=dict(items),
            total=computed,
            threshold=threshold,
            hold_proposed=reached and plan.status in RUNNING,
            note=(note or "").strip() or None,
            reported_by=caller.require().user_id,
            reported_at=now,
        )
        uow.tapers.add_report(report)
        if reached:
            uow.outbox.add_messages(_care_team_rows(plan, report, scale, ctx, now))
        _audit_report(uow, caller, now, plan, report)
        uow.commit()
        return report_view(report)


def list_symptom_reports(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, kb: KnowledgeBase, plan_id: uuid.UUID
) -> SymptomReports:
    """The plan's scale, threshold and reports, newest first."""
    with uow:
        plan, _ = readable_plan(uow, caller, plan_id)
        current = uow.tapers.versions(plan.id)[-1]
        scale, threshold = plan_scale(kb, plan.drug, current.settings)
        reports = uow.tapers.reports(plan.id, limit=MAX_LISTED)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="taper.symptom-reports.read",
            entity_type="TaperPlan",
            entity_id=plan.id,
            patient_id=plan.patient_id,
        )
        return SymptomReports(
            scale=scale, threshold=threshold, reports=[report_view(r) for r in reports]
        )
