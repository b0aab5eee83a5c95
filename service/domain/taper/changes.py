"""Changes to an approved plan in its serial form: which step is current, and
lengthening a step. Steps that have ended are never changed."""

from __future__ import annotations

import copy
import datetime as dt
import zoneinfo
from collections.abc import Collection, Mapping
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule, validate_terms
from service.domain.schedule import wall_time_instant
from service.domain.taper.arith import round_tenth
from service.domain.taper.plan import Flag

# The most a clinician extends a step by at once (a pause shifts by however long
# it lasted).
MAX_EXTENSION_DAYS = 90


def _date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def current_index(plan: dict[str, Any], today: dt.date) -> int:
    """The step `today` falls in; the first before the plan starts, the last after."""
    steps = plan["steps"]
    for step in steps:
        if _date(step["start_date"]) <= today <= _date(step["end_date"]):
            return int(step["index"])
    if today < _date(steps[0]["start_date"]):
        return 0
    return int(steps[-1]["index"])


def started(plan: dict[str, Any], today: dt.date) -> bool:
    return today >= _date(plan["steps"][0]["start_date"])


def extend_step(plan: dict[str, Any], index: int, days: int) -> dict[str, Any]:
    """A copy of `plan` with step `index` lasting `days` longer and every later step
    moved by as much (the plan slows down, never speeds up)."""
    if days < 1:
        raise ValueError("a step is extended by at least one day")
    out = copy.deepcopy(plan)
    shift = dt.timedelta(days=days)
    for step in out["steps"]:
        if step["index"] == index:
            step["end_date"] = (_date(step["end_date"]) + shift).isoformat()
            step["days"] += days
            step["flags"] = _with_flag(step["flags"], Flag.EXTENDED)
        elif step["index"] > index:
            step["start_date"] = (_date(step["start_date"]) + shift).isoformat()
            step["end_date"] = (_date(step["end_date"]) + shift).isoformat()
    out["total_days"] = sum(s["days"] for s in out["steps"])
    return out


def _with_flag(flags: list[str], flag: Flag) -> list[str]:
    order = [f.value for f in Flag]
    return sorted({*flags, flag.value}, key=order.index)


def step_back(
    plan: dict[str, Any], index: int, *, from_date: dt.date, hold_days: int
) -> dict[str, Any]:
    """A copy of `plan` going back from step `index` (under way) to the last dose
    above it, the last one tolerated: step `index` ends the day before `from_date`,
    that dose holds for `hold_days` from then, and the steps from `index` on are
    tried again in order, each lasting as long as before or `hold_days`, whichever
    is longer. The steps before `index` are unchanged."""
    steps = plan["steps"]
    if not 0 <= index < len(steps):
        raise ValueError("no such step")
    current = steps[index]
    higher = [
        s
        for s in steps[:index]
        if Fraction(s["daily_dose_mg"]) > Fraction(current["daily_dose_mg"])
    ]
    if not higher:
        raise ValueError("a step back needs a higher dose before this step to go back to")
    previous = higher[-1]
    if not _date(current["start_date"]) < from_date:
        raise ValueError("a step back starts after the current step has begun")
    if hold_days < 1:
        raise ValueError("a step back holds for at least one day")
    out = copy.deepcopy(plan)
    kept = out["steps"][:index]
    ended = {**copy.deepcopy(current), "end_date": (from_date - dt.timedelta(days=1)).isoformat()}
    ended["days"] = (from_date - _date(current["start_date"])).days
    dose, back_to = Fraction(current["daily_dose_mg"]), Fraction(previous["daily_dose_mg"])
    if dose == 0:
        raise ValueError("a step of nothing ends the taper; there is no step back from it")
    back = {
        **copy.deepcopy(previous),
        "cut_pct": str(round_tenth((dose - back_to) / dose * 100)),
        "flags": [Flag.STEP_BACK.value],
    }
    retried = [back, *(copy.deepcopy(s) for s in steps[index:])]
    start = from_date
    for offset, step in enumerate(retried):
        days = hold_days if offset == 0 else max(int(step["days"]), hold_days)
        if offset and days > int(step["days"]):
            step["flags"] = _with_flag(step["flags"], Flag.EXTENDED)
        step.update(
            index=index + 1 + offset,
            start_date=start.isoformat(),
            end_date=(start + dt.timedelta(days=days - 1)).isoformat(),
            days=days,
        )
        start += dt.timedelta(days=days)
    out["steps"] = [*kept, ended, *retried]
    out["total_days"] = sum(s["days"] for s in out["steps"])
    return out


def flagged_steps(plan: dict[str, Any]) -> list[int]:
    """Steps a clinician must approve one by one: cuts over the cap."""
    return [int(s["index"]) for s in plan["steps"] if Flag.EXCEEDS_CAP.value in s["flags"]]


def due_at(step: Mapping[str, Any], zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """When a step starts: the first instant of its date in the patient's zone."""
    return wall_time_instant(_date(step["start_date"]), dt.time(0), zone)


def next_due(
    plan: Mapping[str, Any], recorded: Collection[int], zone: zoneinfo.ZoneInfo
) -> dt.datetime | None:
    """When the first step not yet started is due; None when every step has."""
    for step in plan["steps"]:
        if step["index"] not in recorded:
            return due_at(step, zone)
    return None


def step_terms(current: PrescriptionTerms, step: Mapping[str, Any]) -> PrescriptionTerms | None:
    """The prescription terms that give the step's dose: its times with something
    to take, each with its amount in mg; None for a step of nothing (the stop).
    Raises the prescription's validation error when the terms cannot hold it."""
    given = [
        (dt.time.fromisoformat(a["time"]), Decimal(a["dose_mg"]))
        for a in step["administrations"]
        if Decimal(a["dose_mg"]) > 0
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
