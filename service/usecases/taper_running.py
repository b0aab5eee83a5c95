"""A clinician runs a taper plan: approves a draft (each over-cap step explicitly),
pauses, resumes, extends, steps back or cancels it; discontinuing the prescription
cancels it too. Every change is a new version, audited; steps that have ended never
change, and the prescription's planned doses follow the plan's new version at once."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from service.db.tables import TaperPlan, TaperPlanVersion, TaperStepRecord
from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.errors import TransitionError
from service.domain.interactions import KnowledgeBase
from service.domain.taper.changes import (
    MAX_EXTENSION_DAYS,
    current_index,
    extend_step,
    flagged_steps,
    resumed,
    started,
    step_back,
)
from service.domain.taper.plan import PER_STEP
from service.domain.taper.status import UNDER_WAY, PlanChange, PlanStatus, check_change
from service.usecases.access import PatientContext, load_writable_patient
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, NotFound, ValidationFailed
from service.usecases.planning import replan
from service.usecases.reminders import ReminderPolicy
from service.usecases.taper_notices import PlanChanged, change_message
from service.usecases.taper_reporting import TaperPlanView, local_today, plan_view
from service.usecases.taper_versions import add_plan_version, schedule_next


@dataclass(frozen=True, kw_only=True)
class _Moment:
    """What a change decides from: the plan, its current version and that
    version's steps, and when."""

    plan: TaperPlan
    current: TaperPlanVersion
    planned: taper.TaperPlan
    today: dt.date
    now: dt.datetime
    zone: zoneinfo.ZoneInfo
    # Steps the scheduler has started.
    recorded: frozenset[int]

    def unchanged(self, status: PlanStatus) -> _Decision:
        """The same steps and approvals under `status`."""
        return status, self.planned, list(self.current.approved_steps)


# The plan's next status, its steps and the steps approved one by one.
_Decision = tuple[PlanStatus, taper.TaperPlan, list[int]]


def _writable_plan(
    uow: UnitOfWork, caller: Caller, plan_id: uuid.UUID
) -> tuple[TaperPlan, PatientContext]:
    """The plan, locked, for a clinician on the care team (404 for anyone else)."""
    found = uow.tapers.get(plan_id)
    if found is None:
        raise NotFound(f"No taper plan {plan_id}.")
    try:
        ctx = load_writable_patient(uow, caller=caller, patient_id=found.patient_id)
    except NotFound:
        raise NotFound(f"No taper plan {plan_id}.") from None
    # Only then the locks: the prescription before the plan, in the order
    # discontinuing takes them, so that the two cannot deadlock.
    uow.prescriptions.get(patient_id=found.patient_id, rx_id=found.prescription_id, for_update=True)
    plan = uow.tapers.get(plan_id, for_update=True)
    if plan is None:
        raise NotFound(f"No taper plan {plan_id}.")
    return plan, ctx


def _moment(
    plan: TaperPlan,
    current: TaperPlanVersion,
    ctx: PatientContext,
    now: dt.datetime,
    records: Sequence[TaperStepRecord],
) -> _Moment:
    return _Moment(
        plan=plan,
        current=current,
        planned=taper.TaperPlan.from_json(current.plan),
        today=local_today(ctx, now),
        now=now,
        zone=zoneinfo.ZoneInfo(ctx.patient.timezone),
        recorded=frozenset(r.step_index for r in records),
    )


def _change(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    plan_id: uuid.UUID,
    change: PlanChange,
    decide: Callable[[_Moment], _Decision],
    reason: str | None,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    days: int | None = None,
) -> TaperPlanView:
    """Load the plan for a clinician on the care team, check that its status takes
    `change`, apply `decide(moment) -> (status, steps, approved steps)` as the next
    version, audit, plan the prescription's doses again, tell the patient, commit."""
    now = clock()
    with uow:
        plan, ctx = _writable_plan(uow, caller, plan_id)
        try:
            check_change(plan.status, change)
        except TransitionError as exc:
            raise Conflict(str(exc)) from None
        versions, records = uow.tapers.versions(plan.id), uow.tapers.records(plan.id)
        moment = _moment(plan, versions[-1], ctx, now, records)
        governed = plan.status in UNDER_WAY
        status, planned, approved = decide(moment)
        nxt = add_plan_version(
            uow,
            caller=caller,
            plan=plan,
            current=moment.current,
            change=change,
            status=status,
            planned=planned,
            approved=approved,
            reason=reason,
            by=caller.require().user_id,
            now=now,
        )
        schedule_next(plan, planned, moment.zone, moment.recorded)
        if governed or status in UNDER_WAY:
            # The planned doses and their reminders follow the plan's new version at
            # once (approved, held, moved or ended), as they follow a step the
            # scheduler starts, and the patient is told what happens next
            # (docs/clinical.md, "Taper planner").
            replan(uow, kb, policy, now=now, prescription_id=plan.prescription_id)
            _tell_patient(uow, moment, ctx, change, status, planned, nxt.version, days)
        uow.commit()
        return plan_view(plan, [*versions, nxt], planned, moment.today, records)


def _tell_patient(
    uow: UnitOfWork,
    m: _Moment,
    ctx: PatientContext,
    change: PlanChange,
    status: PlanStatus,
    planned: taper.TaperPlan,
    version: int,
    days: int | None,
) -> None:
    """Queue the patient's `taper-changed` message for this version."""
    message = change_message(
        PlanChanged(
            plan_id=m.plan.id,
            prescription_id=m.plan.prescription_id,
            patient_id=m.plan.patient_id,
            patient_user=ctx.patient.user_id,
            drug=m.plan.drug,
            change=change,
            status=status,
            version=version,
            planned=planned,
            recorded=m.recorded,
            today=m.today,
            now=m.now,
            days=days,
        )
    )
    if message is not None:
        uow.outbox.add_messages([message])


def _check_listed(
    field: str,
    listed: Collection[str | int],
    needed: Collection[str | int],
    *,
    allowed: Collection[str | int] = (),
    unexpected: str,
    missing: str,
) -> None:
    """What an approval lists in `field`: nothing beyond `needed` (and `allowed`),
    422; nothing of `needed` left out, 409 (the plan asks for it)."""
    extra = sorted({*listed} - {*needed} - {*allowed}, key=str)
    left = sorted({*needed} - {*listed}, key=str)
    if extra:
        raise ValidationFailed(unexpected, errors={field: [f"Not asked for: {extra}."]})
    if left:
        raise Conflict(f"{missing} {left}.", errors={field: [f"Missing: {left}."]})


def _approved(
    m: _Moment, approve_flagged: Sequence[int], acknowledge: Sequence[str], by: uuid.UUID
) -> _Decision:
    """The draft approved: every step over the cap the clinician chose listed, none
    other; every note approved once with the plan (grid-limited cuts, short steps, a
    long plan) acknowledged, none other (notes about steps approved one by one may be
    listed too); and the first step not in the past."""
    flagged = flagged_steps(m.planned)
    _check_listed(
        "approve_flagged",
        approve_flagged,
        flagged,
        unexpected="Only steps over the cap are approved one by one.",
        missing="Approve each step that cuts more than the cap allows (approve_flagged), "
        "or change the plan:",
    )
    _check_listed(
        "acknowledge",
        acknowledge,
        [code.value for code in m.planned.approvals],
        allowed=[n.code.value for n in m.planned.notes if n.code in PER_STEP],
        unexpected="Only the notes this plan raises are acknowledged.",
        missing="Read the notes approved with the plan and list them in acknowledge, or "
        "change the plan:",
    )
    first = m.planned.steps[0].start_date
    if first < m.today:
        raise Conflict(
            f"This plan starts on {first}, before today ({m.today}); its past steps "
            "would all start at once. Draft it again from today or later."
        )
    m.plan.approved_by = by
    return PlanStatus.APPROVED, m.planned, flagged


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
    acknowledge: Sequence[str] = (),
) -> TaperPlanView:
    """Approve a draft; every step whose cut exceeds the cap must be listed, and every
    note approved with the plan acknowledged."""
    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change=PlanChange.APPROVE,
        decide=lambda m: _approved(m, approve_flagged, acknowledge, caller.require().user_id),
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
        return m.unchanged(PlanStatus.PAUSED)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change=PlanChange.PAUSE,
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
        planned = resumed(m.planned, paused_on=paused_on, today=m.today)
        m.plan.paused_at = None
        status = PlanStatus.ACTIVE if started(planned, m.today) else PlanStatus.APPROVED
        return status, planned, list(m.current.approved_steps)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change=PlanChange.RESUME,
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
        longer = extend_step(m.planned, current_index(m.planned, m.today), days)
        return PlanStatus(m.plan.status), longer, list(m.current.approved_steps)

    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change=PlanChange.EXTEND,
        decide=decide,
        reason=reason,
        kb=kb,
        policy=policy,
        days=days,
    )


def _stepped_back(m: _Moment, hold_days: int | None, by: uuid.UUID) -> _Decision:
    """Back from the last step started to the dose before it, from tomorrow, held
    for `hold_days` (default: the plan's interval); the clinician stepping back
    answers for the cuts retried after it."""
    if not m.recorded:
        raise Conflict("The plan has not started; there is no step to go back from.")
    index = max(m.recorded)
    days = hold_days or int(m.current.settings.get("interval_days") or 14)
    tomorrow = m.today + dt.timedelta(days=1)
    try:
        planned = step_back(m.planned, index, from_date=tomorrow, hold_days=days)
    except ValueError:
        raise Conflict(f"Step {index} has no higher dose before it to go back to.") from None
    m.plan.paused_at = None
    m.plan.approved_by = by
    return PlanStatus.ACTIVE, planned, flagged_steps(planned)


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
    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change=PlanChange.STEP_BACK,
        decide=lambda m: _stepped_back(m, hold_days, caller.require().user_id),
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
    return _change(
        uow=uow,
        caller=caller,
        clock=clock,
        plan_id=plan_id,
        change=PlanChange.CANCEL,
        decide=lambda m: m.unchanged(PlanStatus.CANCELLED),
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
        change=PlanChange.CANCEL,
        status=PlanStatus.CANCELLED,
        planned=taper.TaperPlan.from_json(current.plan),
        approved=list(current.approved_steps),
        reason=f"The prescription was discontinued: {reason}",
        by=caller.require().user_id,
        now=now,
    )
    plan.next_step_at = None
