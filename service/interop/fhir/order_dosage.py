"""A MedicationRequest's dosageInstruction read as medtrack's dose, route and schedule
(service/domain/prescriptions.py), the inverse of service/interop/fhir/dosage.py:

- `doseAndRate[0].doseQuantity` is the dose (a UCUM code or one of medtrack's units);
- `timing.repeat.timeOfDay` the times, `dayOfWeek` the days, `frequency` per `period`
  `periodUnit` (d or wk) the day pattern, agreeing with the times;
- several dosages of one `sequence` are one schedule with an amount at each time;
- `asNeededBoolean` with `maxDosePerPeriod` (an amount in the dose's unit per 24 h
  or 1 d: the most doses a day) and, optionally, `timing.repeat` frequency 1 per
  `period` hours: the least time between doses;
- `timing.repeat.boundsPeriod` the first and last day (else `authoredOn` starts it);
- `patientInstruction` the instructions (`text` is the rendering of the rest).

What FHIR can say and medtrack cannot hold is refused naming the element."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from service.domain.prescriptions import (
    MAX_TEXT_LENGTH,
    WEEKDAYS,
    Dose,
    PrescriptionTerms,
    Schedule,
)
from service.interop.fhir import order_codes
from service.interop.fhir.elements import (
    Problems,
    Stop,
    date,
    decimal,
    fail,
    is_object,
    whole,
)

_DOSAGE_READ = frozenset(
    {"sequence", "text", "patientInstruction", "timing", "asNeededBoolean", "route"}
    | {"doseAndRate", "maxDosePerPeriod"}
)
_REPEAT_READ = frozenset(
    {"timeOfDay", "dayOfWeek", "frequency", "period", "periodUnit", "boundsPeriod"}
)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d):00$")


@dataclass(frozen=True, kw_only=True)
class _Part:
    """One Dosage read: everything but the drug."""

    dose: Dose
    route: str
    schedule: Schedule
    start: dt.date
    end: dt.date | None
    instructions: str | None


def dosage_terms(
    value: Any, p: Problems, *, authored_on: dt.date | None
) -> Callable[[str], PrescriptionTerms] | None:
    """The terms for a drug, from the dosage instructions; None when they cannot be
    read (the problems say why). Several instructions of one sequence are taken
    together: different amounts at different times of the day, as dosage.py writes
    them; several sequences (a taper) are refused."""
    at = "dosageInstruction"
    if not isinstance(value, list) or not value:
        p.add(at, "Required: a dosage instruction.")
        return None
    sequences = [d.get("sequence") if is_object(d) else None for d in value]
    if any(sequence != sequences[0] for sequence in sequences):
        p.add(
            f"{at}[1].sequence",
            "One sequence only: a taper is planned in medtrack (a taper plan), "
            "not posted as sequenced dosages.",
        )
        return None
    try:
        parts = [_dosage(d, p, f"{at}[{i}]", authored_on) for i, d in enumerate(value)]
        part = parts[0] if len(parts) == 1 else _together(parts, p, at)
    except Stop:
        return None

    def terms(drug: str) -> PrescriptionTerms:
        return PrescriptionTerms(
            drug=drug,
            dose=part.dose,
            route=part.route,
            schedule=part.schedule,
            start_date=part.start,
            end_date=part.end,
            instructions=part.instructions,
        )

    return terms


def _together(parts: list[_Part], p: Problems, at: str) -> _Part:
    """Dosages of one sequence as one schedule with an amount at each time: they
    must differ only in their times and amounts."""
    first = parts[0]
    for i, other in enumerate(parts[1:], start=1):
        same = replace(
            other,
            dose=replace(other.dose, amount=first.dose.amount),
            schedule=replace(other.schedule, times=first.schedule.times),
        )
        if first.schedule.as_needed or same != first:
            fail(
                p,
                f"{at}[{i}]",
                "Dosages of one sequence may differ only in their times and amounts "
                "(the same route, unit, days, dates and instructions; not as needed).",
            )
    given = sorted((t, part.dose.amount) for part in parts for t in part.schedule.times)
    amounts = tuple(a for _, a in given)
    return replace(
        first,
        dose=replace(first.dose, amount=amounts[0]),
        schedule=replace(
            first.schedule,
            times=tuple(t for t, _ in given),
            amounts=None if len(set(amounts)) == 1 else amounts,
        ),
    )


def _dosage(d: Any, p: Problems, at: str, authored_on: dt.date | None) -> _Part:
    if not is_object(d):
        fail(p, at, "Must be a Dosage object.")
    for name in sorted(set(d) - _DOSAGE_READ):
        p.add(f"{at}.{name}", "medtrack cannot hold this element; send the order without it.")
    if isinstance(d.get("sequence"), bool) or d.get("sequence") not in (None, 1):
        p.add(f"{at}.sequence", "sequence 1, or none: medtrack takes one dosage at a time.")
    as_needed = d.get("asNeededBoolean", False)
    if not isinstance(as_needed, bool):
        fail(p, f"{at}.asNeededBoolean", "Must be true or false.")
    dose = order_codes.dose(d.get("doseAndRate"), p, f"{at}.doseAndRate")
    route = order_codes.route(d.get("route"), p, f"{at}.route")
    timing = d.get("timing")
    if not is_object(timing) or set(timing) != {"repeat"} or not is_object(timing["repeat"]):
        fail(p, f"{at}.timing", "Required: timing with repeat (and nothing else).")
    repeat = timing["repeat"]
    here = f"{at}.timing.repeat"
    for name in sorted(set(repeat) - _REPEAT_READ):
        p.add(f"{here}.{name}", "medtrack cannot hold this element; send the order without it.")
    if as_needed:
        schedule = _as_needed(repeat, d.get("maxDosePerPeriod"), dose, p, at)
    else:
        if "maxDosePerPeriod" in d:
            p.add(f"{at}.maxDosePerPeriod", "Only for an as-needed dose (asNeededBoolean).")
        schedule = _scheduled(repeat, p, here)
    start, end = _bounds(repeat.get("boundsPeriod"), p, f"{here}.boundsPeriod", authored_on)
    return _Part(
        dose=dose,
        route=route,
        schedule=schedule,
        start=start,
        end=end,
        instructions=_instructions(d, p, at),
    )


def _times(repeat: Mapping[str, Any], p: Problems, at: str) -> tuple[dt.time, ...]:
    values = repeat.get("timeOfDay")
    if not isinstance(values, list) or not values:
        fail(p, f"{at}.timeOfDay", "Required: the times of day (HH:MM:00) of each dose.")
    times = []
    for i, wall in enumerate(values):
        match = _TIME.match(wall) if isinstance(wall, str) else None
        if match is None:
            fail(p, f"{at}.timeOfDay[{i}]", "A time of day as HH:MM:00 (medtrack keeps minutes).")
        times.append(dt.time(int(match.group(1)), int(match.group(2))))
    return tuple(times)


def _days(repeat: Mapping[str, Any], p: Problems, at: str) -> tuple[str, ...] | None:
    values = repeat.get("dayOfWeek")
    if values is None:
        return None
    if not isinstance(values, list) or not values or any(v not in WEEKDAYS for v in values):
        fail(p, f"{at}.dayOfWeek", f"Days of the week: {', '.join(WEEKDAYS)}.")
    return tuple(values)


def _scheduled(repeat: Mapping[str, Any], p: Problems, at: str) -> Schedule:
    """Doses at times of day, every day, every n days or on days of the week; a
    frequency, where given, must count the doses that pattern gives in its period."""
    times = _times(repeat, p, at)
    days = _days(repeat, p, at)
    every_n_days = 1
    if any(k in repeat for k in ("frequency", "period", "periodUnit")):
        unit = repeat.get("periodUnit")
        period = whole(repeat.get("period"), p, f"{at}.period")
        frequency = whole(repeat.get("frequency", 1), p, f"{at}.frequency")
        if unit not in ("d", "wk"):
            fail(p, f"{at}.periodUnit", "d or wk: medtrack schedules doses at times of day.")
        days_per_period = period * (7 if unit == "wk" else 1)
        if days is not None:
            if days_per_period not in (1, 7):
                fail(p, f"{at}.period", "With dayOfWeek, the period is 1 d or 1 wk.")
            expected = len(times) * (len(days) if unit == "wk" else 1)
        else:
            every_n_days = days_per_period
            expected = len(times)
        if frequency != expected:
            fail(
                p,
                f"{at}.frequency",
                f"Must be {expected}: the doses that timeOfDay and dayOfWeek give per period.",
            )
    return Schedule(times=times, every_n_days=every_n_days, days_of_week=days)


def _as_needed(repeat: Mapping[str, Any], ratio: Any, dose: Dose, p: Problems, at: str) -> Schedule:
    """An as-needed dose: at most so many a day, and optionally hours apart."""
    here = f"{at}.timing.repeat"
    for name in ("timeOfDay", "dayOfWeek"):
        if name in repeat:
            fail(p, f"{here}.{name}", "An as-needed dose takes no times or days.")
    hours = None
    if any(k in repeat for k in ("frequency", "period", "periodUnit")):
        if repeat.get("frequency", 1) != 1 or repeat.get("periodUnit") != "h":
            fail(p, f"{here}.periodUnit", "As needed: frequency 1 per period in hours (h).")
        hours = decimal(repeat.get("period"), p, f"{here}.period")
    return Schedule(
        as_needed=True,
        max_doses_per_day=_per_day(ratio, dose, p, f"{at}.maxDosePerPeriod"),
        min_hours_between=hours,
    )


def _per_day(ratio: Any, dose: Dose, p: Problems, at: str) -> int:
    """maxDosePerPeriod as doses a day: a count of doses ({dose}) or an amount in the
    dose's unit, a whole number of doses, per 1 d (or 24 h)."""
    if not is_object(ratio) or not is_object(ratio.get("numerator")):
        fail(p, at, "Required for an as-needed dose: the most to take per day.")
    den = ratio.get("denominator")
    if not is_object(den) or (den.get("value"), den.get("code") or den.get("unit")) not in (
        (1, "d"),
        (24, "h"),
    ):
        fail(p, f"{at}.denominator", "The period is 1 d (or 24 h).")
    num = ratio["numerator"]
    value = decimal(num.get("value"), p, f"{at}.numerator.value")
    if order_codes.unit_of(num, p, f"{at}.numerator") != dose.unit:
        fail(p, f"{at}.numerator", "Give the most per day in the dose's unit.")
    count = value / dose.amount
    if count != count.to_integral_value():
        fail(p, f"{at}.numerator", "The maximum must be a whole number of doses.")
    return int(count)


def _bounds(
    value: Any, p: Problems, at: str, authored_on: dt.date | None
) -> tuple[dt.date, dt.date | None]:
    if value is not None and (not is_object(value) or set(value) - {"start", "end"}):
        fail(p, at, "A Period: start and end.")
    bounds = value or {}
    if "start" in bounds:
        start = date(bounds["start"], p, f"{at}.start")
    elif authored_on is not None:
        start = authored_on
    else:
        fail(p, f"{at}.start", "Required (or authoredOn): the first day of the prescription.")
    end = date(bounds["end"], p, f"{at}.end") if "end" in bounds else None
    return start, end


def _instructions(d: Mapping[str, Any], p: Problems, at: str) -> str | None:
    """patientInstruction; `text` is read as the rendering of the structured dosage
    (as medtrack writes it), which the other elements already hold."""
    for name in ("text", "patientInstruction"):
        if name in d and not isinstance(d[name], str):
            fail(p, f"{at}.{name}", "Must be text.")
    value = d.get("patientInstruction")
    if isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
        fail(p, f"{at}.patientInstruction", f"At most {MAX_TEXT_LENGTH} characters.")
    return value.strip() or None if isinstance(value, str) else None
