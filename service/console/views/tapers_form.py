"""The taper planner's forms as the JSON bodies the API takes, so that both meet the
same schemas (service.web.schemas.tapers), and the form's starting values.

A form sends text; the API's schemas take JSON numbers and refuse strings. A field
that reads as a number is sent as one; anything else is sent as typed, for the
schema to refuse in its own words; a blank optional field is left out, so that the
schema's default applies exactly as when a client leaves it out.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from werkzeug.datastructures import MultiDict

from service.domain.abrupt_stop import suggested_taper
from service.domain.catalog import Drug
from service.domain.prescriptions import PrescriptionTerms
from service.domain.taper.arith import text
from service.domain.taper.formulations import Tablet, default_formulations
from service.usecases.prescriptions import PrescriptionRecord

# The field that carries each algorithm's size of step.
ALGORITHM_PARAM = {
    "percent": "percent",
    "linear": "step_mg",
    "hyperbolic": "occupancy_step_pct",
    "manual": "steps",
}
# Optional numbers of the settings, sent when filled in.
OPTIONAL_NUMBERS = (
    "target_dose_mg",
    "max_cut_pct",
    "floor_dose_mg",
    "interval_days",
    "slow_below_mg",
    "slow_interval_days",
)
# Rows offered for formulations the clinician lists instead of the catalog's.
FORMULATION_ROWS = 3
FORMULATION_FIELDS = ("kind", "strength_mg", "divisible_by", "release", "mg_per_ml")
# Longer integers are sent as typed (Python reads no more than 4,300 digits as an
# int, and no setting comes near this many).
MAX_DIGITS = 30
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)")

Form = Mapping[str, str] | MultiDict[str, str]


def number(raw: str | None) -> Any:
    """A JSON number from a form field; None when blank; the text itself otherwise."""
    value = (raw or "").strip()
    if not value:
        return None
    if _INTEGER.fullmatch(value) and len(value) <= MAX_DIGITS:
        return int(value)
    try:
        parsed = float(value)
    except ValueError:
        return value
    return parsed if math.isfinite(parsed) else value


def _manual_steps(raw: str) -> list[dict[str, Any]]:
    """One step a line, "daily dose in mg, days" ("20, 14" or "20 mg for 14 days")."""
    steps: list[dict[str, Any]] = []
    for line in (raw or "").splitlines():
        if not line.strip():
            continue
        found = _NUMBER.findall(line)
        step: dict[str, Any] = {"daily_dose_mg": number(found[0]) if found else line.strip()}
        if len(found) == 2:
            step["days"] = number(found[1])
        elif len(found) > 2:
            step["days"] = line.strip()
        steps.append(step)
    return steps


def _algorithm(form: Form) -> dict[str, Any]:
    kind = form.get("algorithm.kind", "")
    algorithm: dict[str, Any] = {"kind": kind}
    param = ALGORITHM_PARAM.get(kind)
    if param == "steps":
        algorithm["steps"] = _manual_steps(form.get("algorithm.steps", ""))
    elif param is not None:
        value = number(form.get(f"algorithm.{param}"))
        if value is not None:
            algorithm[param] = value
    return algorithm


def _formulations(form: Form) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(FORMULATION_ROWS):
        kind = form.get(f"formulations.{i}.kind", "")
        if not kind:
            continue
        row: dict[str, Any] = {"kind": kind}
        for name in ("strength_mg", "divisible_by", "mg_per_ml"):
            value = number(form.get(f"formulations.{i}.{name}"))
            if value is not None:
                row[name] = value
        if kind == "tablet":
            row["release"] = form.get(f"formulations.{i}.release") or "immediate"
        rows.append(row)
    return rows


def settings_body(form: Form, *, draft: bool) -> dict[str, Any]:
    """The body of POST /v1/taper-plans/preview, or with `draft` of POST
    .../taper-plans (which also takes the symptom threshold)."""
    body: dict[str, Any] = {"algorithm": _algorithm(form)}
    for name in ("drug", "start_date", "larger_dose_time"):
        if form.get(name, "").strip():
            body[name] = form.get(name, "").strip()
    start = number(form.get("start_dose_mg"))
    if start is not None:
        body["start_dose_mg"] = start
    for name in (*OPTIONAL_NUMBERS, *(("symptom_threshold",) if draft else ())):
        value = number(form.get(name))
        if value is not None:
            body[name] = value
    times = [t.strip() for t in form.get("times", "").split(",") if t.strip()]
    if times:
        body["times"] = times
    if form.get("formulations_from") == "listed":
        body["formulations"] = _formulations(form)
    return body


def starting_values(rec: PrescriptionRecord, start: dt.date) -> dict[str, str]:
    """The form filled in from the prescription: its drug, daily dose and times, and
    the taper the abrupt-stop guard suggests (10 % every 14 days under the 25 % cap)."""
    terms = PrescriptionTerms(
        drug=rec.drug,
        dose=rec.dose,
        route=rec.route,
        schedule=rec.schedule,
        start_date=rec.start_date,
        end_date=rec.end_date,
    )
    suggested = suggested_taper(terms, rec.drug_id or rec.drug, start)
    algorithm: Any = suggested["algorithm"]
    times: Any = suggested.get("times", [])
    dose = suggested["start_dose_mg"]
    return {
        "drug": str(suggested["drug"]),
        "start_dose_mg": "" if dose is None else text(Decimal(str(dose))),
        "target_dose_mg": str(suggested["target_dose_mg"]),
        "algorithm.kind": str(algorithm["kind"]),
        "algorithm.percent": str(algorithm["percent"]),
        "max_cut_pct": str(suggested["max_cut_pct"]),
        "interval_days": str(suggested["interval_days"]),
        "start_date": str(suggested["start_date"]),
        "times": ", ".join(times),
        "formulations_from": "catalog",
    }


def catalog_formulations(drug: Drug | None) -> list[str]:
    """What a plan uses when the clinician lists no formulations, in words."""
    if drug is None:
        return []
    return [
        f"{f.label} (halves)"
        if isinstance(f, Tablet) and f.divisible_by == 2
        else f"{f.label} (quarters)"
        if isinstance(f, Tablet) and f.divisible_by == 4
        else f.label
        for f in default_formulations(drug.formulations)
    ]


def approve_body(form: MultiDict[str, str]) -> dict[str, Any]:
    """The body of POST /v1/taper-plans/{plan}/approve."""
    body: dict[str, Any] = {
        "approve_flagged": [number(v) for v in form.getlist("approve_flagged")],
        "acknowledge": form.getlist("acknowledge"),
    }
    if form.get("reason"):
        body["reason"] = form["reason"]
    return body


def change_body(form: Form, *numbers: str) -> dict[str, Any]:
    """The body of a change to a running plan: its reason and the named numbers
    (`days` to extend, `hold_days` to step back), each sent when filled in."""
    body: dict[str, Any] = {}
    if form.get("reason"):
        body["reason"] = form["reason"]
    for name in numbers:
        value = number(form.get(name))
        if value is not None:
            body[name] = value
    return body


# The planner's labels, by the field paths the schemas report errors under.
LABELS = {
    "drug": "Drug",
    "start_dose_mg": "Current daily dose (mg)",
    "target_dose_mg": "Target daily dose (mg)",
    "algorithm": "Algorithm",
    "algorithm.kind": "Algorithm",
    "algorithm.percent": "Percent of the current dose off per step",
    "algorithm.step_mg": "mg off per step",
    "algorithm.occupancy_step_pct": "Occupancy points off per step",
    "algorithm.steps": "Manual steps",
    "max_cut_pct": "Cap on the cuts in any 14 days (%)",
    "interval_days": "Days per step",
    "slow_below_mg": "Slower below (mg)",
    "slow_interval_days": "Days per step below that dose",
    "floor_dose_mg": "Floor for the final step (mg)",
    "start_date": "Start date",
    "times": "Times of day",
    "larger_dose_time": "Time that takes the larger share",
    "formulations": "Formulations",
    "symptom_threshold": "Symptom threshold",
}
FORMULATION_LABELS = {
    "kind": "Kind",
    "strength_mg": "Strength (mg)",
    "divisible_by": "Split into",
    "release": "Release",
    "mg_per_ml": "Concentration (mg/mL)",
}


def field_of(key: str) -> str:
    """The form field an error path belongs to: `times.1` is the times field,
    `algorithm.steps.2.days` the manual steps, `formulations.0.kind` its own input."""
    parts = key.split(".")
    if (
        parts[0] == "formulations"
        and len(parts) >= 3
        and parts[1].isdigit()
        and parts[2] in FORMULATION_LABELS
    ):
        return ".".join(parts[:3])
    for size in (2, 1):
        name = ".".join(parts[:size])
        if name in LABELS:
            return name
    return key


def label_of(key: str) -> str:
    """The label of the field an error path belongs to, as the form shows it."""
    name = field_of(key)
    parts = name.split(".")
    if parts[0] == "formulations" and len(parts) == 3:
        return f"Formulation {int(parts[1]) + 1}: {FORMULATION_LABELS[parts[2]]}"
    return LABELS.get(name, key)


def _where(key: str) -> str:
    """Which line of a list field an error is about ("Line 2, days: "), if any."""
    parts = key.split(".")
    if parts[:2] == ["algorithm", "steps"] and len(parts) >= 3 and parts[2].isdigit():
        what = {"daily_dose_mg": ", dose", "days": ", days"}.get(parts[3] if len(parts) > 3 else "")
        return f"Line {int(parts[2]) + 1}{what or ''}: "
    if parts[0] == "times" and len(parts) == 2 and parts[1].isdigit():
        return f"Time {int(parts[1]) + 1}: "
    return ""


def by_field(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Errors gathered under the form fields they belong to, each saying which line
    of a list it is about."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(field_of(key), []).extend(_where(key) + m for m in messages)
    return out
