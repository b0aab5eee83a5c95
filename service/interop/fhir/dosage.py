"""medtrack's dose schedules as FHIR R4 Dosage, and a taper plan's steps as
sequenced dosage instructions.

Every kind of schedule medtrack has is expressed:
- fixed times of day: `timing.repeat.timeOfDay` (the patient's local wall times,
  as medtrack keeps them), `frequency` (times a day) per `period` of `every_n_days`
  days, and `dayOfWeek` where the schedule names weekdays;
- different amounts at different times (`schedule.amounts`): one Dosage per amount,
  all with the same `sequence`, which FHIR reads as taken together;
- as needed: `asNeededBoolean`, `maxDosePerPeriod` (the most per 24 hours, which
  medtrack counts over any rolling 24 hours), and a minimum interval as
  `frequency` 1 per `period` hours;
- start and end dates: `timing.repeat.boundsPeriod`.
A taper plan in progress gives one Dosage per step (`sequence` 1..n), each bounded
by the step's dates, as in the R4 example "Order for Tapering Dose"
(medicationrequest0303).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from service.domain.prescriptions import Schedule, plain_amount
from service.domain.taper.plan import Step

UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"

# medtrack's dose units as UCUM codes (as the FHIR value set ucum-common lists them);
# units with no UCUM code (a tablet, a puff, "units") are given as text only, which
# a FHIR Quantity allows.
_UCUM_UNITS = {
    "mg": "mg",
    "mcg": "ug",
    "g": "g",
    "mL": "mL",
    "IU": "[IU]",
    "mmol": "mmol",
    "mEq": "meq",
}

# SNOMED CT route codes (FHIR R4 value set "SNOMED CT Route Codes", route-codes:
# descendants of 284009009 "Route of administration value").
_ROUTES = {
    "oral": ("26643006", "Oral route"),
    "sublingual": ("37839007", "Sublingual route"),
    "buccal": ("54471007", "Buccal route"),
    "topical": ("6064005", "Topical route"),
    "transdermal": ("45890007", "Transdermal route"),
    "inhalation": ("447694001", "Respiratory tract route"),
    "nasal": ("46713006", "Nasal route"),
    "ophthalmic": ("54485002", "Ophthalmic route"),
    "otic": ("10547007", "Otic route"),
    "rectal": ("37161004", "Per rectum"),
    "vaginal": ("16857009", "Per vagina"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
    "intramuscular": ("78421000", "Intramuscular route"),
    "intravenous": ("47625008", "Intravenous route"),
}

# Dosage.doseAndRate.type: the dose as ordered (as the R4 tapering example has it).
_ORDERED = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
            "code": "ordered",
            "display": "Ordered",
        }
    ]
}


def number(value: Decimal) -> int | float:
    """A decimal as a JSON number: 10 rather than 10.0000, 2.5 rather than 2.5000."""
    plain = plain_amount(value)
    return int(plain) if plain == plain.to_integral_value() else float(plain)


def quantity(amount: Decimal, unit: str) -> dict[str, Any]:
    """A Quantity in UCUM where the unit has a UCUM code, else as text."""
    out: dict[str, Any] = {"value": number(amount), "unit": unit}
    code = _UCUM_UNITS.get(unit)
    if code is not None:
        out.update(system=UCUM, code=code)
    return out


def route(name: str) -> dict[str, Any]:
    """The route as text, with its SNOMED CT code where medtrack's route has one."""
    concept: dict[str, Any] = {"text": name}
    coded = _ROUTES.get(name)
    if coded is not None:
        concept["coding"] = [{"system": SNOMED, "code": coded[0], "display": coded[1]}]
    return concept


def _bounds(start: dt.date, end: dt.date | None) -> dict[str, str]:
    period = {"start": start.isoformat()}
    if end is not None:
        period["end"] = end.isoformat()
    return period


def _wall(time: dt.time) -> str:
    return time.strftime("%H:%M:%S")


def _by_amount(schedule: Schedule, default: Decimal) -> list[tuple[Decimal, tuple[dt.time, ...]]]:
    """The schedule's times grouped by the amount taken at them, in time order."""
    groups: dict[Decimal, list[dt.time]] = {}
    for slot in sorted(schedule.times):
        groups.setdefault(schedule.amount_at(slot, default), []).append(slot)
    return [(amount, tuple(times)) for amount, times in groups.items()]


def _fixed_repeat(schedule: Schedule, times: Sequence[dt.time]) -> dict[str, Any]:
    repeat: dict[str, Any] = {
        "frequency": len(times),
        "period": schedule.every_n_days,
        "periodUnit": "d",
        "timeOfDay": [_wall(t) for t in times],
    }
    if schedule.days_of_week is not None:
        repeat["dayOfWeek"] = list(schedule.days_of_week)
    return repeat


def _as_needed(schedule: Schedule, amount: Decimal, unit: str) -> dict[str, Any]:
    """The as-needed parts: the flag, the minimum interval, the most per 24 hours."""
    out: dict[str, Any] = {"asNeededBoolean": True}
    repeat: dict[str, Any] = {}
    if schedule.min_hours_between is not None:
        repeat = {"frequency": 1, "period": number(schedule.min_hours_between), "periodUnit": "h"}
    if schedule.max_doses_per_day is not None:
        out["maxDosePerPeriod"] = {
            "numerator": quantity(amount * schedule.max_doses_per_day, unit),
            "denominator": {"value": 24, "unit": "h", "system": UCUM, "code": "h"},
        }
    return {"repeat": repeat, **out}


def _sig(amount: Decimal, unit: str, schedule: Schedule, times: Sequence[dt.time]) -> str:
    """A plain-English reading of one Dosage, for `Dosage.text`."""
    dose = f"{number(amount)} {unit}"
    if schedule.as_needed:
        parts = [f"{dose} as needed"]
        if schedule.min_hours_between is not None:
            parts.append(f"at least {number(schedule.min_hours_between)} hours apart")
        if schedule.max_doses_per_day is not None:
            parts.append(f"at most {schedule.max_doses_per_day} doses in any 24 hours")
        return ", ".join(parts)
    when = " and ".join(t.strftime("%H:%M") for t in times)
    every = "every day" if schedule.every_n_days == 1 else f"every {schedule.every_n_days} days"
    if schedule.days_of_week is not None:
        every += " on " + ", ".join(schedule.days_of_week)
    return f"{dose} at {when} {every}"


def dosages(
    *,
    schedule: Schedule,
    amount: Decimal,
    unit: str,
    route_name: str,
    start: dt.date,
    end: dt.date | None,
    instructions: str | None,
) -> list[dict[str, Any]]:
    """A prescription's terms as its dosage instructions (sequence 1; several when
    different amounts are taken at different times of the day)."""
    groups = [(amount, ())] if schedule.as_needed else _by_amount(schedule, amount)
    out = []
    for each, times in groups:
        dosage: dict[str, Any] = {"sequence": 1, "text": _sig(each, unit, schedule, times)}
        if instructions:
            dosage["patientInstruction"] = instructions
        repeat: dict[str, Any] = {"boundsPeriod": _bounds(start, end)}
        extra: dict[str, Any] = {}
        if schedule.as_needed:
            needed = _as_needed(schedule, amount, unit)
            repeat.update(needed.pop("repeat"))
            extra = needed
        else:
            repeat.update(_fixed_repeat(schedule, times))
        dosage["timing"] = {"repeat": repeat}
        dosage.update(extra)
        dosage["route"] = route(route_name)
        dosage["doseAndRate"] = [{"type": _ORDERED, "doseQuantity": quantity(each, unit)}]
        out.append(dosage)
    return out


def _step_given(step: Step) -> list[tuple[Decimal, tuple[dt.time, ...]]]:
    """A step's administrations with something to take, grouped by amount."""
    groups: dict[Decimal, list[dt.time]] = {}
    for a in sorted(step.administrations, key=lambda a: a.time):
        if a.dose_mg > 0:
            groups.setdefault(a.dose_mg, []).append(dt.time.fromisoformat(a.time))
    return [(mg, tuple(times)) for mg, times in groups.items()]


def _step_dosage(
    sequence: int, step: Step, route_name: str, mg: Decimal, times: Sequence[dt.time]
) -> dict[str, Any]:
    when = " and ".join(t.strftime("%H:%M") for t in times)
    days = f"from {step.start_date.isoformat()} to {step.end_date.isoformat()}"
    return {
        "sequence": sequence,
        "text": f"Step {sequence}: {number(mg)} mg at {when} every day, {days}",
        "timing": {
            "repeat": {
                "boundsPeriod": _bounds(step.start_date, step.end_date),
                "frequency": len(times),
                "period": 1,
                "periodUnit": "d",
                "timeOfDay": [_wall(t) for t in times],
            }
        },
        "route": route(route_name),
        "doseAndRate": [{"type": _ORDERED, "doseQuantity": quantity(mg, "mg")}],
    }


def _nothing_step(sequence: int, step: Step, route_name: str) -> dict[str, Any]:
    """A step with nothing to take (the end of a taper): its dates, and a dose of 0 mg."""
    return {
        "sequence": sequence,
        "text": (
            f"Step {sequence}: nothing to take from {step.start_date.isoformat()} "
            f"to {step.end_date.isoformat()}"
        ),
        "timing": {"repeat": {"boundsPeriod": _bounds(step.start_date, step.end_date)}},
        "route": route(route_name),
        "doseAndRate": [{"type": _ORDERED, "doseQuantity": quantity(Decimal(0), "mg")}],
    }


def taper_dosages(steps: Iterable[Step], *, route_name: str) -> list[dict[str, Any]]:
    """A taper plan's steps as sequenced dosage instructions: step n is sequence n,
    bounded by its first and last dates (both inclusive), its daily administrations
    as times of day; a step with different amounts at different times gives one
    Dosage per amount, sharing the step's sequence."""
    out: list[dict[str, Any]] = []
    for sequence, step in enumerate(steps, start=1):
        given = _step_given(step)
        if not given:
            out.append(_nothing_step(sequence, step, route_name))
        for mg, times in given:
            out.append(_step_dosage(sequence, step, route_name, mg, times))
    return out
