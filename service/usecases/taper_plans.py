"""Taper plans of a patient's prescription: drafted from settings, approved by a
clinician (each over-cap step explicitly), paused, resumed, extended or cancelled.
Every change is a new version, audited; steps that have ended never change."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.db.tables import (
    TaperPlan,
    TaperPlanVersion,
    TaperStepRecord,
    TaperSymptomReport,
)
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.errors import DomainValidationError, Problems
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import PrescriptionTerms, plain_amount
from service.domain.taper import plan_taper
from service.domain.taper.calendar import GOVERNING
from service.domain.taper.changes import (
    MAX_EXTENSION_DAYS,
    current_index,
    extend_step,
    flagged_steps,
    next_due,
    started,
    step_back,
    step_terms,
)
from service.domain.taper.chart import chart_svg
from service.domain.taper.symptoms import check_threshold, scale_for
from service.usecases.access import PatientContext, load_readable_patient, load_writable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock, jsonable
from service.usecases.errors import Conflict, NotFound, ValidationFailed, domain_rules
from service.usecases.planning import replan
from service.usecases.reminders import ReminderPolicy
from service.usecases.tapers import taper_settings

DRAFT, APPROVED, ACTIVE, PAUSED, COMPLETED, CANCELLED = (
    "draft",
    "approved",
    "active",
    "paused",
    "completed",
    "cancelled",
)
# The statuses in which the scheduler starts steps.
RUNNING = (APPROVED, ACTIVE)


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
    steps: list[dict[str, Any]]
    total_days: int
    warnings: list[str]
    settings: dict[str, Any]
    versions: list[PlanVersionView]
    step_records: list[StepRecordView]
    next_step_at: dt.datetime | None
    # The latest symptom reports, newest first; a hold is proposed while the latest
    # is at or above the plan's threshold and the plan runs on.
    symptom_reports: list[SymptomReportView]
    hold_proposed: bool


def _local_today(ctx: PatientContext, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(ctx.patient.timezone)).date()


def _typed_steps(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The stored plan's steps with dates as dates and amounts as numbers, for the API."""

    def number(value: str | None) -> float | None:
        return None if value is None else float(value)

    return [
        {
            **s,
            "start_date": dt.date.fromisoformat(s["start_date"]),
            "end_date": dt.date.fromisoformat(s["end_date"]),
            "daily_dose_mg": float(s["daily_dose_mg"]),
            "cut_pct": float(s["cut_pct"]),
            "administrations": [
                {
                    "time": a["time"],
                    "dose_mg": float(a["dose_mg"]),
                    "components": [
                        {
                            "formulation": c["formulation"],
                            "dose_mg": float(c["dose_mg"]),
                            "units": number(c.get("units")),
                            "ml": number(c.get("ml")),
                        }
                        for c in a["components"]
                    ],
                }
                for a in s["administrations"]
            ],
        }
        for s in plan["steps"]
    ]


def report_view(r: TaperSymptomReport) -> SymptomReportView:
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
    )


# Symptom reports shown with a plan; older ones stay stored and audited.
REPORTS_SHOWN = 20


# Changes a clinician makes to a plan (the scheduler's are start, delay, complete).
CLINICIAN_CHANGES = ("create", "approve", "pause", "resume", "extend", "step-back", "cancel")


def _hold_open(
    plan: TaperPlan, versions: Sequence[TaperPlanVersion], reports: Sequence[TaperSymptomReport]
) -> bool:
    """A hold stays proposed from a report that reached the threshold until a
    clinician next changes the plan (holds, steps back, resumes...)."""
    if not reports or not reports[0].hold_proposed or plan.status not in RUNNING:
        return False
    answered = max(v.created_at for v in versions if v.change in CLINICIAN_CHANGES)
    return reports[0].reported_at > answered


def _view(
    plan: TaperPlan,
    versions: Sequence[TaperPlanVersion],
    today: dt.date,
    records: Sequence[TaperStepRecord] = (),
    reports: Sequence[TaperSymptomReport] = (),
) -> TaperPlanView:
    current = versions[-1]
    return TaperPlanView(
        id=plan.id,
        prescription_id=plan.prescription_id,
        patient_id=plan.patient_id,
        drug=plan.drug,
        status=plan.status,
        version=plan.current_version,
        current_step=current_index(current.plan, today),
        approved_steps=list(current.approved_steps),
        steps=_typed_steps(current.plan),
        total_days=int(current.plan["total_days"]),
        warnings=list(current.plan["warnings"]),
        settings=current.settings,
        versions=[
            PlanVersionView(
                version=v.version,
                change=v.change,
                status=v.status,
                reason=v.reason,
                approved_steps=list(v.approved_steps),
                total_days=int(v.plan["total_days"]),
                created_by=v.created_by,
                created_at=v.created_at,
            )
            for v in versions
        ],
        step_records=[
            StepRecordView(
                step_index=r.step_index,
                plan_version=r.plan_version,
                prescription_version=r.prescription_version,
                daily_dose_mg=plain_amount(Decimal(r.daily_dose_mg)),
                start_date=r.start_date,
                due_at=r.due_at,
                recorded_at=r.recorded_at,
            )
            for r in records
        ],
        next_step_at=plan.next_step_at,
        symptom_reports=[report_view(r) for r in reports],
        hold_proposed=_hold_open(plan, versions, reports),
    )


@dataclass(frozen=True, kw_only=True)
class _Moment:
    """What a change decides from: the plan, its current version, and when."""

    plan: TaperPlan
    current: TaperPlanVersion
    today: dt.date
    now: dt.datetime
    zone: zoneinfo.ZoneInfo
    # Steps the scheduler has started.
    recorded: frozenset[int]


# The plan's next status, its steps (serial form) and the steps approved one by one.
_Decision = tuple[str, dict[str, Any], list[int]]


def _audit_create(
    uow: UnitOfWork, *, caller: Caller, now: dt.datetime, plan: TaperPlan, after: Any
) -> None:
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="taper.create",
        entity_type="TaperPlan",
        entity_id=plan.id,
        patient_id=plan.patient_id,
        after=after,
    )


def _daily_dose_mg(terms: PrescriptionTerms) -> Decimal | None:
    """The prescription's daily dose in mg, when it is one (doses in mg, every day)."""
    schedule = terms.schedule
    daily = schedule.every_n_days == 1 and schedule.days_of_week is None
    if terms.dose.unit != "mg" or schedule.as_needed or not daily:
        return None
    return plain_amount(schedule.daily_total(terms.dose.amount))


def _check_threshold(kb: KnowledgeBase, drug_id: str, threshold: int | None) -> None:
    if threshold is None:
        return
    problems = Problems()
    scale = scale_for(kb.catalog.drugs[drug_id].classes)
    check_threshold(scale, threshold, problems, "symptom_threshold")
    problems.raise_if_any()


def _check_prescribable(terms: PrescriptionTerms, plan_json: Mapping[str, Any]) -> None:
    """Every step must be a prescription the scheduler can write (amounts to four
    decimal places), and the prescription must last until the taper ends."""
    for step in plan_json["steps"]:
        try:
            step_terms(terms, step)
        except DomainValidationError as exc:
            raise ValidationFailed(
                "A step of this plan cannot be prescribed.",
                errors={"formulations": [f"Step {step['index']}: {exc}"]},
            ) from exc
    last = dt.date.fromisoformat(plan_json["steps"][-1]["start_date"])
    if terms.end_date is not None and terms.end_date < last:
        raise Conflict(
            f"The prescription ends on {terms.end_date}, before the taper's last step "
            f"({last}); revise its end date first, so that it is not stopped abruptly."
        )


def create_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    body: Mapping[str, Any],
) -> TaperPlanView:
    """A draft plan for an active prescription; nothing changes until it is approved."""
    now = clock()
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=True)
        if rx is None:
            raise NotFound(f"No prescription {rx_id} for this patient.")
        if rx.status != "active":
            raise Conflict(f"This prescription is {rx.status}; only an active one is tapered.")
        existing = uow.tapers.open_for(rx.id)
        if existing is not None:
            raise Conflict(
                f"This prescription already has a taper plan in progress: {existing.id}."
            )
        version = uow.prescriptions.version(rx.id, rx.current_version)
        ingredients = tuple(version.ingredients or ())
        if len(ingredients) != 1:
            raise Conflict("Only a single-ingredient prescription from the catalog can be tapered.")
        terms = version.terms()
        daily = _daily_dose_mg(terms)
        if daily is None:
            raise Conflict(
                "A taper runs on a daily schedule in mg; revise the prescription to "
                "daily times with its dose in mg first."
            )
        if Decimal(body["start_dose_mg"]) != daily:
            raise ValidationFailed(
                "A taper starts from the current dose.",
                errors={"start_dose_mg": [f"The prescription gives {daily} mg a day."]},
            )
        settings_in = {
            **body,
            "drug": body.get("drug") or ingredients[0],
            "times": body.get("times") or list(terms.schedule.times),
        }
        drug_id, settings = taper_settings(kb, settings_in)
        if drug_id != ingredients[0]:
            raise ValidationFailed(
                "The plan must taper the prescription's drug.",
                errors={"drug": [f"This prescription is for {ingredients[0]}."]},
            )
        with domain_rules("The taper settings are not valid."):
            generated = plan_taper(settings)
            _check_threshold(kb, drug_id, body.get("symptom_threshold"))
        _check_prescribable(terms, generated.to_json())
        by = caller.require().user_id
        plan = TaperPlan(
            prescription_id=rx.id,
            patient_id=patient_id,
            drug=drug_id,
            status=DRAFT,
            current_version=1,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        first = TaperPlanVersion(
            plan_id=plan.id,
            version=1,
            change="create",
            status=DRAFT,
            settings=jsonable(dict(settings_in)),
            plan=generated.to_json(),
            approved_steps=[],
            created_by=by,
            created_at=now,
        )
        uow.tapers.add(plan, first)
        _audit_create(
            uow,
            caller=caller,
            now=now,
            plan=plan,
            after={
                "drug": drug_id,
                "steps": len(generated.steps),
                "total_days": generated.total_days,
            },
        )
        uow.commit()
        return _view(plan, [first], _local_today(ctx, now))


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
    return plan, _local_today(ctx, clock())


def get_taper_plan(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, plan_id: uuid.UUID
) -> TaperPlanView:
    with uow:
        plan, today = _audited_read(uow, caller, clock, plan_id, "taper.read")
        return _view(
            plan,
            uow.tapers.versions(plan.id),
            today,
            uow.tapers.records(plan.id),
            uow.tapers.reports(plan.id, limit=REPORTS_SHOWN),
        )


def taper_chart(*, uow: UnitOfWork, caller: Caller, clock: Clock, plan_id: uuid.UUID) -> str:
    """The plan as an SVG chart: dose over time, today marked, the steps already
    completed (started by the scheduler and ended) shaded."""
    with uow:
        plan, today = _audited_read(uow, caller, clock, plan_id, "taper.chart")
        current = uow.tapers.versions(plan.id)[-1].plan
        ended = {
            int(s["index"])
            for s in current["steps"]
            if dt.date.fromisoformat(s["end_date"]) < today
        }
        started = {r.step_index for r in uow.tapers.records(plan.id)}
        return chart_svg(
            current,
            today=today,
            completed_steps=len(ended & started),
            title=f"{plan.drug} taper, {plan.status}",
        )


def add_plan_version(
    uow: UnitOfWork,
    *,
    caller: Caller,
    plan: TaperPlan,
    current: TaperPlanVersion,
    change: str,
    status: str,
    plan_json: dict[str, Any],
    approved: list[int],
    reason: str | None,
    by: uuid.UUID,
    now: dt.datetime,
) -> TaperPlanVersion:
    """The plan's next version, carrying `status`, `plan_json` and the approvals,
    audited as `taper.<change>`. `by` is the clinician who answers for it (the
    caller, or for the scheduler the clinician whose approval it carries out)."""
    before = {"status": plan.status, "version": plan.current_version}
    plan.status = status
    plan.current_version += 1
    plan.updated_at = now
    nxt = TaperPlanVersion(
        plan_id=plan.id,
        version=plan.current_version,
        change=change,
        status=status,
        settings=current.settings,
        plan=plan_json,
        approved_steps=approved,
        reason=(reason or "").strip() or None,
        created_by=by,
        created_at=now,
    )
    uow.tapers.add_version(plan, nxt)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype=f"taper.{change}",
        entity_type="TaperPlan",
        entity_id=plan.id,
        patient_id=plan.patient_id,
        before=before,
        after={"status": status, "version": plan.current_version, "reason": nxt.reason},
        actor_id=by,
    )
    return nxt


def schedule_next(
    plan: TaperPlan, plan_json: Mapping[str, Any], zone: zoneinfo.ZoneInfo, recorded: Set[int]
) -> None:
    """When the scheduler next looks at the plan: the start of its first step not
    yet started, while it runs; never otherwise."""
    running = plan.status in RUNNING
    plan.next_step_at = next_due(plan_json, recorded, zone) if running else None


def reschedule_steps(uow: UnitOfWork, patient_id: uuid.UUID, zone: zoneinfo.ZoneInfo) -> None:
    """After the patient's time zone changes: each running plan's next step starts
    at midnight in the new zone."""
    for found, version in uow.tapers.under_way(patient_id):
        plan = uow.tapers.get(found.id, for_update=True)
        if plan is not None:
            recorded = {r.step_index for r in uow.tapers.records(plan.id)}
            schedule_next(plan, version.plan, zone, recorded)


def _change(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    change: str,
    allowed_from: tuple[str, ...],
    decide: Callable[[_Moment], _Decision],
    reason: str | None,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """Load the plan for a clinician on the care team, check its status, apply
    `decide(moment) -> (status, plan, approved steps)` as the next version, audit,
    plan the prescription's doses again, commit."""
    now = clock()
    with uow:
        found = uow.tapers.get(plan_id)
        if found is None:
            raise NotFound(f"No taper plan {plan_id}.")
        try:
            ctx = load_writable_patient(uow, caller=caller, patient_id=found.patient_id)
        except NotFound:
            raise NotFound(f"No taper plan {plan_id}.") from None
        # Only then the locks: the prescription before the plan, in the order
        # discontinuing takes them, so that the two cannot deadlock.
        uow.prescriptions.get(
            patient_id=found.patient_id, rx_id=found.prescription_id, for_update=True
        )
        plan = uow.tapers.get(plan_id, for_update=True)
        if plan is None:
            raise NotFound(f"No taper plan {plan_id}.")
        if plan.status not in allowed_from:
            raise Conflict(f"This plan is {plan.status}; it cannot take a {change}.")
        versions = uow.tapers.versions(plan.id)
        records = uow.tapers.records(plan.id)
        current = versions[-1]
        today = _local_today(ctx, now)
        zone = zoneinfo.ZoneInfo(ctx.patient.timezone)
        moment = _Moment(
            plan=plan,
            current=current,
            today=today,
            now=now,
            zone=zone,
            recorded=frozenset(r.step_index for r in records),
        )
        governed = plan.status in GOVERNING
        status, plan_json, approved = decide(moment)
        nxt = add_plan_version(
            uow,
            caller=caller,
            plan=plan,
            current=current,
            change=change,
            status=status,
            plan_json=plan_json,
            approved=approved,
            reason=reason,
            by=caller.require().user_id,
            now=now,
        )
        schedule_next(plan, plan_json, zone, moment.recorded)
        if governed or status in GOVERNING:
            # The planned doses and their reminders follow the plan's new version at
            # once (approved, held, moved or ended), as they follow a step the
            # scheduler starts (docs/clinical.md, "Taper planner").
            replan(uow, kb, policy, now=now, prescription_id=plan.prescription_id)
        uow.commit()
        return _view(plan, [*versions, nxt], today, records)


def approve_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    approve_flagged: Sequence[int],
    reason: str | None,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """Approve a draft; every step whose cut exceeds the cap must be listed."""

    def decide(m: _Moment) -> _Decision:
        flagged = flagged_steps(m.current.plan)
        missing = sorted(set(flagged) - set(approve_flagged))
        extra = sorted(set(approve_flagged) - set(flagged))
        if extra:
            raise ValidationFailed(
                "Only steps over the cap are approved one by one.",
                errors={"approve_flagged": [f"Steps {extra} are not flagged."]},
            )
        if missing:
            raise Conflict(
                f"Steps {missing} cut more than the cap allows; approve each explicitly "
                "(approve_flagged) or change the plan.",
                errors={"approve_flagged": [f"Missing: {missing}."]},
            )
        first = dt.date.fromisoformat(m.current.plan["steps"][0]["start_date"])
        if first < m.today:
            raise Conflict(
                f"This plan starts on {first}, before today ({m.today}); its past steps "
                "would all start at once. Draft it again from today or later."
            )
        m.plan.approved_by = caller.require().user_id
        return APPROVED, m.current.plan, flagged

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change="approve",
        allowed_from=(DRAFT,),
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
    )


def pause_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    reason: str,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """Hold the current dose: no step starts until the plan is resumed."""

    def decide(m: _Moment) -> _Decision:
        m.plan.paused_at = m.now
        return PAUSED, m.current.plan, list(m.current.approved_steps)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change="pause",
        allowed_from=(APPROVED, ACTIVE),
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
    )


def resume_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    reason: str,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """Carry on where the plan was held: the current step lasts as many days longer
    as the pause did, and every later step moves with it."""

    def decide(m: _Moment) -> _Decision:
        paused_on = (m.plan.paused_at or m.now).astimezone(m.zone).date()
        held = (m.today - paused_on).days
        plan_json = m.current.plan
        if held > 0:
            index = current_index(m.current.plan, paused_on)
            plan_json = extend_step(m.current.plan, index, held)
        m.plan.paused_at = None
        status = ACTIVE if started(plan_json, m.today) else APPROVED
        return status, plan_json, list(m.current.approved_steps)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change="resume",
        allowed_from=(PAUSED,),
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
    )


def extend_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    days: int,
    reason: str | None,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """More days on the current step (the first, before the plan starts)."""
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        raise ValidationFailed(
            "Extend by a number of days.",
            errors={"days": [f"Must be between 1 and {MAX_EXTENSION_DAYS}."]},
        )

    def decide(m: _Moment) -> _Decision:
        index = current_index(m.current.plan, m.today)
        return (
            m.plan.status,
            extend_step(m.current.plan, index, days),
            list(m.current.approved_steps),
        )

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change="extend",
        allowed_from=(DRAFT, APPROVED, ACTIVE, PAUSED),
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
    )


def step_back_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    hold_days: int | None,
    reason: str,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """Back to the last tolerated dose from tomorrow (the start of a day, like every
    step), held for `hold_days` (default: the plan's interval), then the same cuts
    again, each step at least as long: never faster than before."""
    if hold_days is not None and not 1 <= hold_days <= MAX_EXTENSION_DAYS:
        raise ValidationFailed(
            "Hold the previous dose for a number of days.",
            errors={"hold_days": [f"Must be between 1 and {MAX_EXTENSION_DAYS}."]},
        )

    def decide(m: _Moment) -> _Decision:
        if not m.recorded:
            raise Conflict("The plan has not started; there is no step to go back from.")
        index = max(m.recorded)
        days = hold_days or int(m.current.settings.get("interval_days") or 14)
        tomorrow = m.today + dt.timedelta(days=1)
        try:
            plan_json = step_back(m.current.plan, index, from_date=tomorrow, hold_days=days)
        except ValueError:
            raise Conflict(f"Step {index} has no higher dose before it to go back to.") from None
        m.plan.paused_at = None
        # The clinician stepping back answers for the cuts retried after it.
        m.plan.approved_by = caller.require().user_id
        return ACTIVE, plan_json, flagged_steps(plan_json)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change="step-back",
        allowed_from=(ACTIVE, PAUSED),
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
    )


def cancel_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    reason: str,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> TaperPlanView:
    """End the plan; the prescription keeps its current dose."""

    def decide(m: _Moment) -> _Decision:
        return CANCELLED, m.current.plan, list(m.current.approved_steps)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change="cancel",
        allowed_from=(DRAFT, APPROVED, ACTIVE, PAUSED),
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
    )


def cancel_with_prescription(
    uow: UnitOfWork, *, caller: Caller, now: dt.datetime, prescription_id: uuid.UUID, reason: str
) -> None:
    """Discontinuing a prescription ends its plan in progress, in the same
    transaction (a new version, audited)."""
    plan = uow.tapers.open_for(prescription_id, for_update=True)
    if plan is None:
        return
    current = uow.tapers.versions(plan.id)[-1]
    add_plan_version(
        uow,
        caller=caller,
        plan=plan,
        current=current,
        change="cancel",
        status=CANCELLED,
        plan_json=current.plan,
        approved=list(current.approved_steps),
        reason=f"The prescription was discontinued: {reason}",
        by=caller.require().user_id,
        now=now,
    )
    plan.next_step_at = None
