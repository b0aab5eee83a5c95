"""Changes to an approved plan: which step is current, lengthening a step (a
clinician's extension, a resume after a pause, a step the scheduler starts late)
and stepping back. Each is a pure function from plan to plan; steps that have ended
are never changed."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Collection, Sequence
from dataclasses import replace
from fractions import Fraction

from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule, validate_terms
from service.domain.schedule import wall_time_instant
from service.domain.taper.arith import round_tenth
from service.domain.taper.plan import FLAG_ORDER, Flag, Step, TaperPlan

# The most a clinician extends a step by at once (a pause shifts by however long
# it lasted).
MAX_EXTENSION_DAYS = 90


def current_index(plan: TaperPlan, today: dt.date) -> int:
    """The step `today` falls in; the first before the plan starts, the last after."""
    for step in plan.steps:
        if step.start_date <= today <= step.end_date:
            return step.index
    if today < plan.steps[0].start_date:
        return 0
    return plan.steps[-1].index


def started(plan: TaperPlan, today: dt.date) -> bool:
    return today >= plan.steps[0].start_date


def extend_step(plan: TaperPlan, index: int, days: int) -> TaperPlan:
    """`plan` with step `index` lasting `days` longer and every later step moved by
    as much (the plan slows down, never speeds up)."""
    if days < 1:
        raise ValueError("a step is extended by at least one day")
    shift = dt.timedelta(days=days)

    def changed(step: Step) -> Step:
        if step.index == index:
            flags = _with_flag(step.flags, Flag.EXTENDED)
            return replace(step, end_date=step.end_date + shift, flags=flags)
        if step.index > index:
            return replace(step, start_date=step.start_date + shift, end_date=step.end_date + shift)
        return step

    return replace(plan, steps=tuple(changed(s) for s in plan.steps))


def resumed(plan: TaperPlan, *, paused_on: dt.date, today: dt.date) -> TaperPlan:
    """`plan` carried on where it was held: the step current on `paused_on` lasts as
    many days longer as the pause did, and every later step moves with it."""
    held = (today - paused_on).days
    if held < 1:
        return plan
    return extend_step(plan, current_index(plan, paused_on), held)


def delayed(plan: TaperPlan, index: int, days: int) -> TaperPlan:
    """`plan` with step `index` starting `days` after its date (the scheduler was
    down, or the prescription paused): the step before lasts that much longer, so
    no cut comes sooner after the last than planned."""
    return extend_step(plan, index - 1, days)


def _with_flag(flags: tuple[Flag, ...], flag: Flag) -> tuple[Flag, ...]:
    return tuple(sorted({*flags, flag}, key=FLAG_ORDER.index))


def step_back(plan: TaperPlan, index: int, *, from_date: dt.date, hold_days: int) -> TaperPlan:
    """`plan` going back from step `index` (under way) to the last dose above it,
    the last one tolerated: step `index` ends the day before `from_date`, that dose
    holds for `hold_days` from then, and the steps from `index` on are tried again
    in order, each lasting as long as before or `hold_days`, whichever is longer.
    The steps before `index` are unchanged."""
    steps = plan.steps
    if not 0 <= index < len(steps):
        raise ValueError("no such step")
    current = steps[index]
    higher = [s for s in steps[:index] if s.daily_dose_mg > current.daily_dose_mg]
    if not higher:
        raise ValueError("a step back needs a higher dose before this step to go back to")
    if not current.start_date < from_date:
        raise ValueError("a step back starts after the current step has begun")
    if hold_days < 1:
        raise ValueError("a step back holds for at least one day")
    dose, back_to = Fraction(current.daily_dose_mg), Fraction(higher[-1].daily_dose_mg)
    if dose == 0:
        raise ValueError("a step of nothing ends the taper; there is no step back from it")
    ended = replace(current, end_date=from_date - dt.timedelta(days=1))
    back = replace(
        higher[-1], cut_pct=round_tenth((dose - back_to) / dose * 100), flags=(Flag.STEP_BACK,)
    )
    retried = _retried((back, *steps[index:]), index=index + 1, start=from_date, hold=hold_days)
    # The steps from `index` on are now two further down: the notes follow them.
    notes = tuple(
        replace(n, steps=tuple(i + 2 if i >= index else i for i in n.steps)) for n in plan.notes
    )
    return replace(plan, steps=(*steps[:index], ended, *retried), notes=notes)


def _retried(steps: Sequence[Step], *, index: int, start: dt.date, hold: int) -> tuple[Step, ...]:
    """`steps` again from `start`, numbered from `index`: the first held for `hold`
    days, each later one as long as before or `hold` days, whichever is longer."""
    out: list[Step] = []
    for offset, step in enumerate(steps):
        days = hold if offset == 0 else max(step.days, hold)
        longer = offset > 0 and days > step.days
        out.append(
            replace(
                step,
                index=index + offset,
                start_date=start,
                end_date=start + dt.timedelta(days=days - 1),
                flags=_with_flag(step.flags, Flag.EXTENDED) if longer else step.flags,
            )
        )
        start += dt.timedelta(days=days)
    return tuple(out)


def flagged_steps(plan: TaperPlan) -> list[int]:
    """Steps a clinician must approve one by one: cuts over the cap."""
    return list(plan.steps_to_approve)


def due_at(step: Step, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a step starts: the first instant of its date in the patient's zone."""
    return wall_time_instant(step.start_date, dt.time(0), zone)


def next_due(
    plan: TaperPlan, recorded: Collection[int], zone: zoneinfo.ZoneInfo
) -> dt.datetime | None:
    """When the first step not yet started is due; None when every step has."""
    for step in plan.steps:
        if step.index not in recorded:
            return due_at(step, zone)
    return None


def step_terms(current: PrescriptionTerms, step: Step) -> PrescriptionTerms | None:
    """The prescription terms that give the step's dose: its times with something
    to take, each with its amount in mg; None for a step of nothing (the stop).
    Raises the prescription's validation error when the terms cannot hold it."""
    given = [
        (dt.time.fromisoformat(a.time), a.dose_mg) for a in step.administrations if a.dose_mg > 0
    ]
    if not given:
        return None
    amounts = tuple(amount for _, amount in given)
    schedule = Schedule(
        times=tuple(time for time, _ in given),
        amounts=None if len(set(amounts)) == 1 else amounts,
    )
    return validate_terms(
        replace(current, dose=Dose(amount=amounts[0], unit="mg"), schedule=schedule)
    )
