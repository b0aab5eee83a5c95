"""Prescribing from the console.

The form becomes the body POST /v1/patients/<id>/prescriptions receives and is
loaded with the API's schema; the drug search, the live check and prescribing call
the use cases the API calls (the check runs the very screening prescribing runs,
storing nothing). Each finding is shown with the answer it needs before sending.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from service.console.blueprint import bp
from service.console.filters import amount
from service.console.forms import field_errors
from service.console.session import console_ctx, signed_in
from service.domain.prescriptions import DOSE_UNITS, ROUTES
from service.usecases import drugs, patients
from service.usecases import prescriptions as rx
from service.usecases.errors import InteractionConflict, UnresolvedDrug, ValidationFailed
from service.usecases.patients import PatientRecord
from service.usecases.prescriptions import Requirement, ScreenedFinding
from service.web.schemas.interactions import DrugQuery
from service.web.schemas.prescriptions import PrescriptionCreateSchema

SUGGESTIONS = 10
LABELS = {
    "drug": "Drug",
    "dose.amount": "Dose",
    "dose.unit": "Unit",
    "route": "Route",
    "schedule.times": "Times of day",
    "schedule.every_n_days": "Every N days",
    "schedule.as_needed": "As needed",
    "schedule.max_doses_per_day": "Max doses per day",
    "schedule.min_hours_between": "Min hours between doses",
    "start_date": "Start date",
    "end_date": "End date",
    "instructions": "Instructions",
    "override.reason": "Override reason",
    "unlisted_reason": "Why this unlisted drug",
}
# The fields the form always shows, each with its errors beside it.
FIELDS = [name for name in LABELS if name not in ("override.reason", "unlisted_reason")]
# What each kind of finding is called in its heading.
KINDS = {
    "drug-drug": "Interaction",
    "duplicate-therapy": "Duplicate therapy",
    "drug-allergy": "Allergy",
    "drug-condition": "Condition",
    "drug-age": "Age",
    "dose-range": "Dose range",
    "abrupt-stop": "Abrupt stop",
    "partial-screening": "Partial screening",
}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Longer numbers are passed on as typed (Python reads no more than 4,300 digits as
# an int, and a float of hundreds of digits is infinite); no dose comes near this.
MAX_DIGITS = 30
_ITEM = re.compile(r"\.\d+$")


@dataclass(frozen=True, kw_only=True)
class Panel:
    """What the live check region shows: the screening's findings, or why it could
    not run (the form incomplete, the drug unknown, terms the API refuses)."""

    ran: bool = False
    drug: str | None = None
    findings: list[ScreenedFinding] = field(default_factory=list)
    message: str | None = None
    errors: Mapping[str, list[str]] = field(default_factory=dict)
    suggestions: list[dict[str, str]] = field(default_factory=list)
    unlisted: bool = False

    @property
    def refused(self) -> bool:
        return any(f.unanswered for f in self.findings)

    @property
    def needs_override(self) -> bool:
        return any(f.requires is Requirement.OVERRIDE for f in self.findings)


def _number(text: str) -> Any:
    """A number typed in a form as JSON would carry it; other text is passed on as
    text, for the schema to refuse as the API refuses a string."""
    t = text.strip()
    if not _NUMBER.fullmatch(t) or len(t) > MAX_DIGITS:
        return t
    return int(t) if t.lstrip("+-").isdigit() else float(t)


def _optional(form: Mapping[str, str], name: str, convert: Any = str) -> Any:
    value = form.get(name, "").strip()
    return convert(value) if value else None


def form_body(form: MultiDict[str, str]) -> dict[str, Any]:
    """The JSON body the API would receive for this form. A blank required field
    is left out, so that the schema names it as missing."""
    dose: dict[str, Any] = {"unit": form.get("dose.unit", "")}
    if form.get("dose.amount", "").strip():
        dose["amount"] = _number(form["dose.amount"])
    schedule: dict[str, Any] = {
        "times": [t for t in re.split(r"[,;\s]+", form.get("schedule.times", "")) if t],
        "as_needed": "schedule.as_needed" in form,
        "max_doses_per_day": _optional(form, "schedule.max_doses_per_day", _number),
        "min_hours_between": _optional(form, "schedule.min_hours_between", _number),
    }
    if form.get("schedule.every_n_days", "").strip():
        schedule["every_n_days"] = _number(form["schedule.every_n_days"])
    body: dict[str, Any] = {
        "dose": dose,
        "schedule": schedule,
        "end_date": _optional(form, "end_date"),
        "instructions": form.get("instructions", "").strip() or None,
        "acknowledge": form.getlist("acknowledge"),
        "confirm_unlisted": "confirm_unlisted" in form,
        "unlisted_reason": form.get("unlisted_reason", "").strip() or None,
    }
    for name in ("drug", "route", "start_date"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if form.get("override_reason", ""):
        body["override"] = {"reason": form["override_reason"]}
    return body


def by_field(errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Errors by the form field they belong to (`schedule.times.1` -> `schedule.times`)."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        out.setdefault(_ITEM.sub("", key), []).extend(messages)
    return out


def _patient(patient_id: uuid.UUID) -> PatientRecord:
    return patients.get_patient(**console_ctx().args(), patient_id=patient_id)


def _local_today(patient: PatientRecord) -> dt.date:
    return console_ctx().clock().astimezone(ZoneInfo(patient.timezone)).date()


def _page(
    patient_id: uuid.UUID,
    form: MultiDict[str, str] | None = None,
    *,
    status: int = 200,
    check: Panel | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> ResponseReturnValue:
    patient = _patient(patient_id)
    if form is None:
        form = MultiDict(
            {
                "dose.unit": "mg",
                "route": "oral",
                "schedule.every_n_days": "1",
                "start_date": _local_today(patient).isoformat(),
            }
        )
    page = render_template(
        "prescribe/form.html",
        section="patients",
        patient=patient,
        form=form,
        check=check,
        errors=by_field(errors or {}),
        **_vocabulary(),
    )
    return page, status


def _vocabulary() -> dict[str, Any]:
    return {
        "labels": LABELS,
        "fields": FIELDS,
        "kinds": KINDS,
        "units": DOSE_UNITS,
        "routes": ROUTES,
    }


def _loaded(form: MultiDict[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = PrescriptionCreateSchema().load(form_body(form))
    return loaded


@bp.route("/patients/<uuid:patient_id>/prescribe", methods=["GET", "POST"])
@signed_in
def prescribe(patient_id: uuid.UUID) -> ResponseReturnValue:
    if request.method == "GET":
        return _page(patient_id)
    form = request.form
    try:
        body = _loaded(form)
    except ValidationError as exc:
        return _page(patient_id, form, status=422, errors=field_errors(exc))
    try:
        rec = rx.create_prescription(
            **console_ctx().planning_args(),
            patient_id=patient_id,
            terms=body["terms"],
            screening=body["screening"],
        )
    except InteractionConflict as exc:
        check = Panel(ran=True, findings=rx.conflict_findings(exc), message=exc.message)
        return _page(patient_id, form, status=409, check=check)
    except ValidationFailed as exc:
        check = _refused_check(form, exc)
        return _page(patient_id, form, status=422, check=check, errors=exc.errors)
    dose = f"{amount(rec.dose.amount)} {rec.dose.unit}"
    flash(f"Prescribed {rec.drug_name or rec.drug} {dose} ({rec.route}).")
    return redirect(url_for("console.patient_chart", patient_id=patient_id))


def _refused_check(form: Mapping[str, str], exc: ValidationFailed) -> Panel:
    """A drug the catalog does not know (with what it may mean), or terms refused."""
    if isinstance(exc, UnresolvedDrug):
        return Panel(
            message=exc.message, errors=exc.errors, suggestions=exc.suggestions, unlisted=True
        )
    unlisted = "confirm_unlisted" in form or "unlisted_reason" in exc.errors
    return Panel(message=exc.message, errors=exc.errors, unlisted=unlisted)


def _check(patient_id: uuid.UUID, form: MultiDict[str, str]) -> Panel:
    try:
        body = _loaded(form)
    except ValidationError as exc:
        message = "The check runs once the form is complete and valid."
        return Panel(message=message, errors=by_field(field_errors(exc)))
    c = console_ctx()
    try:
        screen = rx.screen_prescription(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            terms=body["terms"],
            screening=body["screening"],
        )
    except ValidationFailed as exc:
        return _refused_check(form, exc)
    return Panel(
        ran=True,
        drug=screen.drug_name,
        findings=screen.findings,
        unlisted=screen.partial,
    )


@bp.route("/patients/<uuid:patient_id>/prescribe/check", methods=["POST"])
@signed_in
def prescribe_check(patient_id: uuid.UUID) -> ResponseReturnValue:
    """The live check: what prescribing the form as it stands would find."""
    form = request.form
    check = _check(patient_id, form)
    if request.headers.get("HX-Request"):
        return render_template(
            "prescribe/_check.html",
            check=check,
            form=form,
            errors=by_field(check.errors),
            fragment=True,
            **_vocabulary(),
        )
    return _page(patient_id, form, check=check, errors=check.errors)


@bp.route("/drugs")
@signed_in
def drug_search() -> ResponseReturnValue:
    """Catalog entries for what is typed (misspellings included), as the API's
    GET /v1/drugs finds them; the prescribe form's drug field sends its own name."""
    typed = request.args.get("q", request.args.get("drug", ""))
    try:
        query = DrugQuery().load({"q": typed, "limit": SUGGESTIONS})
    except ValidationError:
        found: list[dict[str, Any]] = []
    else:
        found = drugs.search_drugs(kb=console_ctx().kb, query=query["q"], limit=query["limit"])
    if request.headers.get("HX-Request"):
        return render_template("prescribe/_drugs.html", drugs=found)
    return render_template("prescribe/drugs.html", section="patients", drugs=found, q=typed)
