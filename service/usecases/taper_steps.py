"""Running approved taper plans: the scheduler starts each step at the first
instant of its date in the patient's time zone. Starting a step records it (one
record per plan and step, which the database enforces), makes its dose the
prescription's current version, plans the doses and reminders again, and tells
the patient. A step of nothing discontinues the prescription; the last step
completes the plan.

Each plan advances in its own transaction holding the plan's and the
prescription's row locks (skipped when another process holds them), so two
schedulers never start one step twice; after downtime every step that came due
is started in order, none skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from service.db.outbox import queued
from service.db.tables import Patient, Prescription, TaperPlan, TaperPlanVersion, TaperStepRecord
from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.audit import AuditAction
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Change, Status
from service.domain.taper.arith import text
from service.domain.taper.changes import delayed, due_at, step_terms
from service.domain.taper.status import RUNNING, PlanChange, PlanStatus
from service.usecases.audit import record
from service.usecases.context import SCHEDULER, Clock
from service.usecases.planning import replan
from service.usecases.prescriptions import append_version
from service.usecases.reminders import TAPER_STEP, ReminderPolicy
from service.usecases.rescreening import rescreen
from service.usecases.taper_notices import dose_text
from service.usecases.taper_versions import add_plan_version, schedule_next

log = logging.getLogger("medtrack.scheduler")

# Plans looked at per run; the rest wait for the next run (a minute later).
ADVANCE_BATCH = 500
# How soon a plan whose prescription is paused is looked at again.
RECHECK_PAUSED = dt.timedelta(minutes=5)


@dataclass
class AdvanceSummary:
    plans: int = 0
    steps: int = 0
    completed: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass(kw_only=True)
class _Run:
    """One plan being advanced, with what the steps act on; `current` is the plan's
    latest version and `planned` its steps."""

    plan: TaperPlan
    current: TaperPlanVersion
    planned: taper.TaperPlan
    rx: Prescription
    zone: zoneinfo.ZoneInfo
    acting_for: uuid.UUID
    now: dt.datetime


def _message(run: _Run, step: taper.Step, patient_user: uuid.UUID) -> dict[str, Any]:
    drug = run.plan.drug
    last = step.index == run.planned.steps[-1].index
    start, end = step.start_date.isoformat(), step.end_date.isoformat()
    if step.daily_dose_mg == 0:
        title = f"Your {drug} taper is complete"
        body = f"From {start} you take no more {drug}. Well done."
    elif step.index == 0:
        title = f"Your {drug} taper starts today"
        body = f"Keep to {dose_text(step)} until {end}."
    else:
        title = f"Your {drug} dose changes today"
        until = "from now on" if last else f"until {end}"
        body = f"Take {dose_text(step)} {until}."
    return queued(
        key=f"{TAPER_STEP}:{run.plan.id}:{step.index}",
        kind=TAPER_STEP,
        recipient_id=patient_user,
        patient_id=run.plan.patient_id,
        dose_event_id=None,
        due_at=run.now,
        now=run.now,
        payload={
            "title": title,
            "body": body,
            "data": {
                "plan_id": str(run.plan.id),
                "prescription_id": str(run.rx.id),
                "step_index": step.index,
                "daily_dose_mg": text(step.daily_dose_mg),
                "start_date": start,
            },
        },
    )


def _prescribe_step(uow: UnitOfWork, run: _Run, step: taper.Step) -> None:
    """Give the prescription the step's dose (a new version, unless it already has
    it), or discontinue it for a step of nothing."""
    current = uow.prescriptions.version(run.rx.id, run.rx.current_version)
    terms = current.terms()
    new = step_terms(terms, step)
    label = (
        f"Taper step {step.index}: {text(step.daily_dose_mg)} mg a day "
        f"from {step.start_date.isoformat()}."
    )
    if new is None:
        append_version(
            uow,
            caller=SCHEDULER,
            now=run.now,
            rx=run.rx,
            current=current,
            terms=terms,
            status=Status.DISCONTINUED,
            change=Change.TAPER_COMPLETE,
            reason=f"{label} The taper is complete.",
            on_behalf_of=run.acting_for,
        )
    elif new != terms:
        append_version(
            uow,
            caller=SCHEDULER,
            now=run.now,
            rx=run.rx,
            current=current,
            terms=new,
            status=Status(run.rx.status),
            change=Change.TAPER_STEP,
            reason=label,
            on_behalf_of=run.acting_for,
        )


def _start_step(uow: UnitOfWork, run: _Run, step: taper.Step) -> None:
    """Give the prescription the step's dose or discontinue it for a step of
    nothing, and record the step."""
    _prescribe_step(uow, run, step)
    uow.tapers.add_record(
        TaperStepRecord(
            plan_id=run.plan.id,
            step_index=step.index,
            plan_version=run.plan.current_version,
            prescription_id=run.rx.id,
            prescription_version=run.rx.current_version,
            daily_dose_mg=step.daily_dose_mg,
            start_date=step.start_date,
            due_at=due_at(step, run.zone),
            recorded_at=run.now,
        )
    )
    record(
        uow,
        caller=SCHEDULER,
        now=run.now,
        action=AuditAction.UPDATE,
        subtype="taper.step",
        entity_type="TaperPlan",
        entity_id=run.plan.id,
        patient_id=run.plan.patient_id,
        after={
            "step": step.index,
            "daily_dose_mg": text(step.daily_dose_mg),
            "start_date": step.start_date.isoformat(),
            "prescription_version": run.rx.current_version,
        },
        actor_id=run.acting_for,
    )


def _new_version(
    uow: UnitOfWork,
    run: _Run,
    status: PlanStatus,
    change: PlanChange,
    reason: str,
    planned: taper.TaperPlan,
) -> None:
    run.current = add_plan_version(
        uow,
        caller=SCHEDULER,
        plan=run.plan,
        current=run.current,
        change=change,
        status=status,
        planned=planned,
        approved=list(run.current.approved_steps),
        reason=reason,
        by=run.acting_for,
        now=run.now,
    )
    run.planned = planned


def _late_by(run: _Run, step: taper.Step) -> int:
    """Whole days a step starts after its date (the scheduler was down, or the
    prescription paused); 0 on its date."""
    today = run.now.astimezone(run.zone).date()
    return (today - step.start_date).days


def _next_due(run: _Run, recorded: set[int]) -> taper.Step | None:
    return next(
        (
            s
            for s in run.planned.steps
            if s.index not in recorded and due_at(s, run.zone) <= run.now
        ),
        None,
    )


def _delay(uow: UnitOfWork, run: _Run, step: taper.Step, late: int) -> None:
    """`step` starts today, `late` days after its date (downtime): the step before
    lasts that much longer and every later step moves with it (a new version), so
    no cut comes sooner after the last than planned."""
    reason = (
        f"Step {step.index} was due on {step.start_date.isoformat()} and starts "
        f"{late} day(s) late; later steps move by as much."
    )
    later = delayed(run.planned, step.index, late)
    _new_version(uow, run, PlanStatus(run.plan.status), PlanChange.DELAY, reason, later)


def _start_due_steps(uow: UnitOfWork, run: _Run, recorded: set[int]) -> list[taper.Step]:
    """Start every step that has come due, in order, adding each to `recorded`; a
    step a day or more late is delayed to today first."""
    started: list[taper.Step] = []
    while (step := _next_due(run, recorded)) is not None:
        late = _late_by(run, step)
        if step.index > 0 and late > 0:
            _delay(uow, run, step, late)
            continue
        if run.plan.status == PlanStatus.APPROVED:
            first = "The first step has started."
            _new_version(uow, run, PlanStatus.ACTIVE, PlanChange.START, first, run.planned)
        _start_step(uow, run, step)
        recorded.add(step.index)
        started.append(step)
    return started


def _after_steps(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    run: _Run,
    patient: Patient,
    started: list[taper.Step],
) -> None:
    """Once steps have started: screen the record again, plan the doses again and
    tell the patient of the latest step."""
    rescreen(uow, kb, caller=SCHEDULER, patient=patient, now=run.now, cause=Change.TAPER_STEP)
    replan(uow, kb, policy, now=run.now, prescription_id=run.rx.id)
    uow.outbox.add_messages([_message(run, started[-1], patient.user_id)])


def _advance_plan(
    uow: UnitOfWork, kb: KnowledgeBase, policy: ReminderPolicy, plan_id: uuid.UUID, now: dt.datetime
) -> tuple[int, bool] | None:
    """Start the steps of one plan that have come due: (steps started, whether the
    plan completed), or None when another process holds the plan or its
    prescription. While the prescription is paused no step starts."""
    with uow:
        uow.serialise_writes()
        plan = uow.tapers.claim(plan_id)
        if plan is None:
            return None
        if plan.status not in RUNNING or plan.next_step_at is None or plan.next_step_at > now:
            return 0, False
        if not uow.record.serialise(plan.patient_id, wait=False):
            return None
        rx = uow.prescriptions.claim(plan.prescription_id)
        patient = uow.patients.get(plan.patient_id)
        if rx is None or patient is None:
            return None
        if rx.status != Status.ACTIVE:
            plan.next_step_at = now + RECHECK_PAUSED
            uow.commit()
            return 0, False
        run = _run(uow, plan, rx, patient, now)
        recorded = {r.step_index for r in uow.tapers.records(plan.id)}
        started = _start_due_steps(uow, run, recorded)
        completed = bool(started) and all(s.index in recorded for s in run.planned.steps)
        if completed:
            last = "The last step has started."
            _new_version(uow, run, PlanStatus.COMPLETED, PlanChange.FINISH, last, run.planned)
        if started:
            _after_steps(uow, kb, policy, run, patient, started)
        schedule_next(plan, run.planned, run.zone, recorded)
        uow.commit()
        return len(started), completed


def _run(
    uow: UnitOfWork, plan: TaperPlan, rx: Prescription, patient: Patient, now: dt.datetime
) -> _Run:
    versions = uow.tapers.versions(plan.id)
    return _Run(
        plan=plan,
        current=versions[-1],
        planned=taper.TaperPlan.from_json(versions[-1].plan),
        rx=rx,
        zone=zoneinfo.ZoneInfo(patient.timezone),
        acting_for=plan.approved_by or versions[-1].created_by,
        now=now,
    )


def advance_taper_plans(
    *, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase, policy: ReminderPolicy
) -> AdvanceSummary:
    """The scheduler's taper job: every running plan with a step due by now."""
    now = clock()
    summary = AdvanceSummary()
    with uow.read_only() as reading:
        due = reading.tapers.due(now, limit=ADVANCE_BATCH)
    for plan_id in due:
        try:
            outcome = _advance_plan(uow, kb, policy, plan_id, now)
        except Exception:
            # One plan that cannot advance must not hold up the others; it is
            # logged and tried again on the next run.
            log.exception("taper plan %s could not advance", plan_id)
            summary.failed += 1
            continue
        if outcome is None:
            summary.skipped += 1
            continue
        started, completed = outcome
        summary.plans += 1
        summary.steps += started
        summary.completed += completed
    return summary
