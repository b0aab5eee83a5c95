"""Withdrawal self-reports during a taper (docs/clinical.md, "Taper planner"): the
patient (or a clinician on the care team, for them) rates a short scale, leaving out
any item they cannot rate. A red flag alerts the care team at once, whatever the
total; a total at or above the plan's threshold tells them too; either proposes a
hold on a running plan. Every response carries the safety-net advice with its
sources. A report never changes a dose."""

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
from service.domain.messages import MessageKind
from service.domain.taper.safety_net import SafetyNet, safety_net
from service.domain.taper.status import RUNNING
from service.domain.taper.symptoms import (
    CLOSED_TO_REPORTS,
    Reading,
    Scale,
    care_team_alert,
    scale_for,
    score,
)
from service.usecases.access import PatientContext
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, domain_rules
from service.usecases.screening import describe
from service.usecases.taper_reporting import SymptomReportView, readable_plan, report_view

MAX_LISTED = 200


@dataclass(frozen=True, kw_only=True)
class Advice:
    text: str
    urgent: bool
    sources: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class ReportOutcome(SymptomReportView):
    """A new report as its reporter sees it: the advice comes with it."""

    advice: Advice


@dataclass(frozen=True, kw_only=True)
class SymptomReports:
    scale: Scale
    threshold: int
    # What to do if things get worse, shown before a report is made.
    advice: Advice
    reports: list[SymptomReportView]


def plan_scale(kb: KnowledgeBase, drug_id: str, settings: Mapping[str, Any]) -> tuple[Scale, int]:
    """The plan's scale (from its drug's classes) and threshold (the clinician's, or
    the scale's default)."""
    drug = kb.catalog.drugs.get(drug_id)
    scale = scale_for(drug.classes if drug is not None else ())
    return scale, int(settings.get("symptom_threshold") or scale.default_threshold)


def _advice(kb: KnowledgeBase, net: SafetyNet) -> Advice:
    return Advice(text=net.text, urgent=net.urgent, sources=[describe(kb, s) for s in net.sources])


def _labels(scale: Scale, ids: tuple[str, ...]) -> str:
    return "; ".join(item.label for i in ids if (item := scale.item(i)) is not None)


def _care_team_payload(
    plan: TaperPlan, report: TaperSymptomReport, scale: Scale, read: Reading, kind: MessageKind
) -> dict[str, Any]:
    where = f"{plan.drug} taper, step {report.step_index}"
    unrated = f", {len(read.unrated)} items unrated" if read.unrated else ""
    scored = (
        f"{scale.name} {report.total} of {scale.max_total} (threshold {report.threshold}{unrated})."
    )
    if kind is MessageKind.TAPER_RED_FLAG:
        title = "Red-flag withdrawal symptom reported"
        body = f"{where}: {_labels(scale, read.red_flags)}. Contact the patient now. {scored}"
    else:
        title = "Withdrawal symptoms reported"
        hold = "Consider holding the current dose." if report.hold_proposed else ""
        body = f"{where}: {scored} {hold or f'The plan is {plan.status}.'}"
    return {
        "title": title,
        "body": body,
        "data": {
            "plan_id": str(plan.id),
            "report_id": str(report.id),
            "patient_id": str(plan.patient_id),
            "total": report.total,
            "threshold": report.threshold,
            "red_flags": list(read.red_flags),
            "unrated": list(read.unrated),
        },
    }


def _care_team_rows(
    plan: TaperPlan,
    report: TaperSymptomReport,
    scale: Scale,
    read: Reading,
    kind: MessageKind,
    ctx: PatientContext,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    payload = _care_team_payload(plan, report, scale, read, kind)
    return [
        queued(
            key=f"{kind}:{report.id}:{clinician}",
            kind=kind,
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
    read: Reading,
    alert: MessageKind | None,
    alerted: list[dict[str, Any]],
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
            "red_flags": list(read.red_flags),
            "unrated": list(read.unrated),
            "care_team_alert": str(alert) if alert else None,
            "alerted": sorted(str(m["recipient_id"]) for m in alerted),
        },
    )


def report_symptoms(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    plan_id: uuid.UUID,
    items: Mapping[str, int | None],
    total: int | None,
    note: str | None,
) -> ReportOutcome:
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
            read = score(scale, items, total)
        alert = care_team_alert(read, threshold)
        started = [r.step_index for r in uow.tapers.records(plan.id)]
        report = TaperSymptomReport(
            plan_id=plan.id,
            patient_id=plan.patient_id,
            step_index=max(started, default=0),
            scale=scale.id,
            items=read.rated,
            total=read.total,
            threshold=threshold,
            hold_proposed=alert is not None and plan.status in RUNNING,
            note=(note or "").strip() or None,
            reported_by=caller.require().user_id,
            reported_at=now,
        )
        uow.tapers.add_report(report)
        rows = _care_team_rows(plan, report, scale, read, alert, ctx, now) if alert else []
        if rows:
            uow.outbox.add_messages(rows)
        _audit_report(uow, caller, now, plan, report, read, alert, rows)
        uow.commit()
        net = safety_net(scale, red_flags=read.red_flags, alert=alert, care_team_told=bool(rows))
        return ReportOutcome(**vars(report_view(report)), advice=_advice(kb, net))


def list_symptom_reports(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, kb: KnowledgeBase, plan_id: uuid.UUID
) -> SymptomReports:
    """The plan's scale, threshold, standing advice and reports, newest first."""
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
            scale=scale,
            threshold=threshold,
            advice=_advice(kb, safety_net(scale)),
            reports=[report_view(r) for r in reports],
        )
