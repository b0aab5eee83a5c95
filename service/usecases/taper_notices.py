"""What the patient is told when a clinician changes their taper plan: one outbox
message of kind `taper-changed` per change, in plain words saying what happens
next (the dose they stay on or go to, until when, and what follows). It goes the
way a step's message goes (`taper_steps.py`): the outbox, then the patient's
devices.

Only a plan that governs the patient's doses, or has just come to, is announced: a
draft changes nothing for the patient until it is approved. The clinician's reason
stays in the plan's versions and the audit trail; a push passes through third
parties and carries no more than the dose and dates the patient needs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from service.db.outbox import queued
from service.domain import taper
from service.domain.messages import MessageKind
from service.domain.taper.arith import text
from service.domain.taper.changes import current_index
from service.domain.taper.status import PlanChange, PlanStatus

TAPER_CHANGED = MessageKind.TAPER_CHANGED


def dose_text(step: taper.Step) -> str:
    """`10 mg a day (08:00 5 mg, 20:00 5 mg)`: the daily dose and each time's share."""
    parts = [f"{a.time} {text(a.dose_mg)} mg" for a in step.administrations if a.dose_mg > 0]
    times = f" ({', '.join(parts)})" if parts else ""
    return f"{text(step.daily_dose_mg)} mg a day{times}"


@dataclass(frozen=True, kw_only=True)
class PlanChanged:
    """A clinician's change to a plan, as the patient is to hear of it: `planned` is
    the plan's new steps, `recorded` the steps the scheduler has started."""

    plan_id: uuid.UUID
    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    patient_user: uuid.UUID
    drug: str
    change: PlanChange
    status: PlanStatus
    version: int
    planned: taper.TaperPlan
    recorded: Set[int]
    today: dt.date
    now: dt.datetime
    days: int | None = None


def _step(plan: taper.TaperPlan, index: int) -> taper.Step:
    return next(s for s in plan.steps if s.index == index)


def _after(plan: taper.TaperPlan, step: taper.Step, drug: str) -> str:
    """What follows `step`: the next dose and from when, or nothing more to take."""
    later = [s for s in plan.steps if s.index > step.index]
    if not later:
        return "this is the plan's last dose"
    nxt = later[0]
    when = nxt.start_date.isoformat()
    if nxt.daily_dose_mg == 0:
        return f"then no more {drug} from {when}"
    return f"then {text(nxt.daily_dose_mg)} mg a day from {when}"


def _held(c: PlanChanged) -> taper.Step:
    """The step whose dose the patient takes now: the last one started, else the
    first (a plan starts from the prescription's current dose)."""
    return _step(c.planned, max(c.recorded)) if c.recorded else c.planned.steps[0]


def _current(c: PlanChanged) -> taper.Step:
    return _step(c.planned, current_index(c.planned, c.today))


def _keep_to(c: PlanChanged, step: taper.Step) -> str:
    if step.start_date > c.today:
        return f"From {step.start_date.isoformat()}, take {dose_text(step)} until {step.end_date}"
    return f"Keep to {dose_text(step)} until {step.end_date.isoformat()}"


def _approved(c: PlanChanged) -> tuple[str, str]:
    first = c.planned.steps[0]
    return (
        f"Your {c.drug} taper is approved",
        f"It starts on {first.start_date.isoformat()}: {dose_text(first)} until "
        f"{first.end_date.isoformat()}, {_after(c.planned, first, c.drug)}.",
    )


def _paused(c: PlanChanged) -> tuple[str, str]:
    return (
        f"Your {c.drug} taper is paused",
        f"You stay on {dose_text(_held(c))} until your clinician resumes it; "
        "your dose does not change meanwhile.",
    )


def _resumed(c: PlanChanged) -> tuple[str, str]:
    step = _current(c)
    return (
        f"Your {c.drug} taper carries on",
        f"{_keep_to(c, step)}, {_after(c.planned, step, c.drug)}.",
    )


def _extended(c: PlanChanged) -> tuple[str, str]:
    step = _current(c)
    days = f"{c.days} day" if c.days == 1 else f"{c.days} days"
    return (
        f"Your {c.drug} taper is extended by {days}",
        f"{_keep_to(c, step)}, {_after(c.planned, step, c.drug)}.",
    )


def _stepped_back(c: PlanChanged) -> tuple[str, str]:
    tomorrow = c.today + dt.timedelta(days=1)
    back = next((s for s in c.planned.steps if s.start_date == tomorrow), _current(c))
    return (
        f"Your {c.drug} dose goes back up",
        f"From {back.start_date.isoformat()}, take {dose_text(back)} until "
        f"{back.end_date.isoformat()}, {_after(c.planned, back, c.drug)}.",
    )


def _cancelled(c: PlanChanged) -> tuple[str, str]:
    return (
        f"Your {c.drug} taper is cancelled",
        f"Keep taking {dose_text(_held(c))} as prescribed now, and do not change it "
        "unless your clinician tells you to.",
    )


_WORDS = {
    PlanChange.APPROVE: _approved,
    PlanChange.PAUSE: _paused,
    PlanChange.RESUME: _resumed,
    PlanChange.EXTEND: _extended,
    PlanChange.STEP_BACK: _stepped_back,
    PlanChange.CANCEL: _cancelled,
}


def change_message(c: PlanChanged) -> dict[str, Any] | None:
    """The outbox row telling the patient of `c`, once per plan version; None for a
    change the patient is not told of."""
    words = _WORDS.get(c.change)
    if words is None:
        return None
    title, body = words(c)
    now_on = _held(c) if c.change in (PlanChange.PAUSE, PlanChange.CANCEL) else None
    return queued(
        key=f"{TAPER_CHANGED}:{c.plan_id}:{c.version}",
        kind=TAPER_CHANGED,
        recipient_id=c.patient_user,
        patient_id=c.patient_id,
        dose_event_id=None,
        due_at=c.now,
        now=c.now,
        payload={
            "title": title,
            "body": body,
            "data": {
                "plan_id": str(c.plan_id),
                "prescription_id": str(c.prescription_id),
                "change": c.change.value,
                "status": c.status.value,
                "version": c.version,
                "daily_dose_mg": text((now_on or _current(c)).daily_dose_mg),
            },
        },
    )
