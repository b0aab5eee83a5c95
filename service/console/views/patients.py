"""The console's patient pages: the caller's patients and a search among them,
registering a patient (the one-time activation code, also as a QR code for the app
to scan), and editing a patient's record. The use cases and schemas are the JSON
API's (service/api/patients.py)."""

from __future__ import annotations

import functools
import json
import re
import uuid
import zoneinfo
from typing import Any
from xml.sax.saxutils import quoteattr

import qrcode
import qrcode.constants
import qrcode.image.svg
from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from marshmallow import ValidationError

from service.console.blueprint import bp
from service.console.forms import field_errors
from service.console.session import console_ctx, signed_in
from service.domain.accounts import Role
from service.domain.timezones import is_valid_timezone
from service.usecases.errors import Conflict, ValidationFailed
from service.usecases.patient_records import PatientRecord
from service.usecases.patients import (
    EnrolmentRecord,
    create_patient,
    get_patient,
    list_enrolments,
    list_patients,
    update_patient,
)
from service.web.schemas.common import PageQuery
from service.web.schemas.patients import PatientCreateSchema, PatientUpdateSchema

PAGE_SIZE = 25
RECENT_ENROLMENTS = 10
# The record's fields a clinician edits here (the e-mail, the sign-in, is an
# administrator's to change: service.domain.accounts).
EDITABLE = ("name", "date_of_birth", "timezone", "allergies", "pregnant")
_LIST_SEPARATORS = re.compile(r"[\n,;]")


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The IANA names a record accepts, for the form's suggestions."""
    return tuple(sorted(z for z in zoneinfo.available_timezones() if is_valid_timezone(z)))


def page_offset(size: int | None = None) -> int:
    """Where the requested page starts, checked as the API checks its `offset`."""
    try:
        query = PageQuery().load(
            {"limit": size or PAGE_SIZE, "offset": request.args.get("offset", "0")}
        )
    except ValidationError as exc:
        raise ValidationFailed(
            "The page asked for is not valid.", errors=field_errors(exc)
        ) from exc
    return int(query["offset"])


def find_patients(q: str) -> dict[str, Any]:
    """One page of the caller's patients matching `q`, for the results template."""
    offset = page_offset()
    found = list_patients(**console_ctx().args(), q=q, limit=PAGE_SIZE, offset=offset)
    return {
        "found": found,
        "q": q,
        "offset": offset,
        "previous": max(offset - PAGE_SIZE, 0) if offset else None,
        # A full page may have a next one; an empty next page says there is none.
        "next": offset + PAGE_SIZE if len(found) == PAGE_SIZE else None,
    }


@bp.route("/patients")
@signed_in
def patients() -> ResponseReturnValue:
    results = find_patients(request.args.get("q", ""))
    if request.headers.get("HX-Request"):
        return render_template("patients/_results.html", **results)
    enrolments: list[EnrolmentRecord] = []
    if g.principal.role is Role.CLINICIAN:
        c = console_ctx()
        enrolments = list_enrolments(**c.args(), limit=RECENT_ENROLMENTS, offset=0)
    return render_template(
        "patients/list.html", section="patients", enrolments=enrolments, **results
    )


def _entries(text: str) -> list[str]:
    """A list typed one entry a line (commas and semicolons also separate entries)."""
    return [part.strip() for part in _LIST_SEPARATORS.split(text) if part.strip()]


def _typed() -> dict[str, Any]:
    """What the form holds, as typed, to show again."""
    form = request.form
    typed: dict[str, Any] = {
        k: form.get(k, "") for k in ("name", "email", "date_of_birth", "timezone", "allergies")
    }
    typed["pregnant"] = form.get("pregnant") == "true"
    return typed


def _body(typed: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The JSON body the API would receive for these fields."""
    body = {k: typed[k] for k in keys}
    if "allergies" in body:
        body["allergies"] = _entries(body["allergies"])
    return body


def _folded(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The errors by field, those of one allergy (`allergies.2`) beside the list's field."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        field, _, entry = key.partition(".")
        if field == "allergies" and entry.isdigit():
            out.setdefault(field, []).extend(f"Entry {int(entry) + 1}: {m}" for m in messages)
        else:
            out.setdefault(key, []).extend(messages)
    return out


def _register_form(
    status: int,
    typed: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    **context: Any,
) -> ResponseReturnValue:
    page = render_template(
        "patients/register.html",
        section="patients",
        typed=typed,
        zones=time_zones(),
        errors=_folded(errors or {}),
        **context,
    )
    return page, status


@bp.route("/patients/new", methods=["GET", "POST"])
@signed_in
def register_patient() -> ResponseReturnValue:
    if request.method == "GET":
        return _register_form(200, {"pregnant": False})
    typed = _typed()
    keys = ("name", "email", "date_of_birth", "timezone", "allergies", "pregnant")
    try:
        body = PatientCreateSchema().load(_body(typed, keys))
    except ValidationError as exc:
        return _register_form(422, typed, errors=field_errors(exc))
    c = console_ctx()
    try:
        enrolment = create_patient(**c.args(), activation_ttl=c.settings.activation_ttl, **body)
    except ValidationFailed as exc:
        return _register_form(422, typed, errors=exc.errors, message=exc.message)
    code = enrolment.activation_code or ""
    page = render_template(
        "patients/activation.html",
        section="patients",
        enrolment=enrolment,
        name=body["name"],
        timezone=body["timezone"],
        code=code,
        qr=qr_svg(code, label=f"QR code of the activation code for {body['name']}"),
    )
    # Shown once: never stored by a browser or a proxy, never shown again.
    return page, 200, {"Cache-Control": "no-store"}


def qr_svg(payload: str, *, label: str) -> Markup:
    """`payload` as a QR code: an inline SVG drawn with presentation attributes only
    (the console's Content Security Policy allows no inline style), announced as one
    labelled image."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(payload)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    labelled = f'<svg role="img" aria-label={quoteattr(label)} focusable="false" '
    return Markup(svg.replace("<svg ", labelled, 1))  # noqa: S704 (built here, label escaped)


def _as_form(rec: PatientRecord) -> dict[str, Any]:
    """A record's editable fields as the API's body spells them."""
    return {
        "name": rec.name,
        "date_of_birth": rec.date_of_birth.isoformat() if rec.date_of_birth else "",
        "timezone": rec.timezone,
        "allergies": list(rec.allergies or []),
        "pregnant": bool(rec.pregnant),
    }


def _loaded() -> dict[str, Any]:
    """The record as the form showed it (a hidden field), to send only what changed."""
    try:
        loaded = json.loads(request.form.get("loaded", ""))
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _edit_form(
    status: int,
    patient_id: uuid.UUID,
    typed: dict[str, Any],
    loaded: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    **extra: Any,
) -> ResponseReturnValue:
    page = render_template(
        "patients/edit.html",
        section="patients",
        patient_id=patient_id,
        name=loaded.get("name") or typed.get("name"),
        typed=typed,
        loaded=json.dumps(loaded),
        zones=time_zones(),
        errors=_folded(errors or {}),
        **extra,
    )
    return page, status


@bp.route("/patients/<uuid:patient_id>/edit", methods=["GET", "POST"])
@signed_in
def edit_patient(patient_id: uuid.UUID) -> ResponseReturnValue:
    c = console_ctx()
    if request.method == "GET":
        loaded = _as_form(get_patient(**c.args(), patient_id=patient_id))
        typed = {**loaded, "allergies": "\n".join(loaded["allergies"])}
        return _edit_form(200, patient_id, typed, loaded)
    typed, loaded = _typed(), _loaded()
    submitted = _body(typed, EDITABLE)
    # Only what this form changed, as a PATCH: a field someone else changed
    # meanwhile is not put back.
    changes = {k: v for k, v in submitted.items() if loaded.get(k) != v}
    try:
        body = PatientUpdateSchema().load(changes)
    except ValidationError as exc:
        return _edit_form(422, patient_id, typed, loaded, errors=field_errors(exc))
    try:
        saved = update_patient(**c.planning_args(), patient_id=patient_id, changes=body)
    except ValidationFailed as exc:
        return _edit_form(422, patient_id, typed, loaded, errors=exc.errors, message=exc.message)
    except Conflict as exc:
        return _edit_form(409, patient_id, typed, loaded, errors=exc.errors, message=exc.message)
    flash(f"Saved the record of {saved.name}." if body else "Nothing was changed.")
    return redirect(url_for("console.patient_chart", patient_id=patient_id))
