"""The console's admin pages: staff accounts, and the clinicians on each patient's
care team. The use cases and schemas are the JSON API's (service/api/users.py and
the care-team endpoints of service/api/patients.py)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from service.console.blueprint import bp
from service.console.forms import field_errors
from service.console.session import admin_only, console_ctx
from service.console.views.patients import find_patients, page_offset
from service.domain.accounts import Role
from service.usecases import patients, users
from service.usecases.errors import Conflict, ValidationFailed
from service.usecases.security import MIN_PASSWORD_LENGTH
from service.web.schemas.common import MAX_PAGE
from service.web.schemas.patients import CareTeamAddSchema
from service.web.schemas.users import UserCreateSchema

STAFF_PAGE = 50
ROLES = (("clinician", "Clinician"), ("admin", "Administrator"))


def _staff_page(
    status: int, typed: dict[str, str] | None = None, **context: Any
) -> ResponseReturnValue:
    offset = page_offset(STAFF_PAGE)
    staff = users.list_staff(
        **console_ctx().args_without_clock(), role=None, limit=STAFF_PAGE, offset=offset
    )
    page = render_template(
        "admin/staff.html",
        section="admin",
        staff=staff,
        offset=offset,
        previous=max(offset - STAFF_PAGE, 0) if offset else None,
        next=offset + STAFF_PAGE if len(staff) == STAFF_PAGE else None,
        typed=typed or {"role": "clinician"},
        roles=ROLES,
        min_password=MIN_PASSWORD_LENGTH,
        **context,
    )
    return page, status


@bp.route("/admin/staff", methods=["GET", "POST"])
@admin_only
def staff() -> ResponseReturnValue:
    if request.method == "GET":
        return _staff_page(200)
    form = {k: request.form.get(k, "") for k in ("role", "email", "password", "name")}
    # What is shown again after a refusal: never the password.
    typed = {k: v for k, v in form.items() if k != "password"}
    try:
        body = UserCreateSchema().load(form)
    except ValidationError as exc:
        return _staff_page(422, typed, errors=field_errors(exc))
    c = console_ctx()
    try:
        created = users.create_staff_user(
            **c.args(),
            passwords=c.passwords,
            role=Role(body["role"]),
            email=body["email"],
            password=body["password"],
            name=body["name"],
        )
    except ValidationFailed as exc:
        return _staff_page(422, typed, errors=exc.errors, message=exc.message)
    except Conflict as exc:
        return _staff_page(409, typed, errors=exc.errors, message=exc.message)
    flash(f"Created the account of {created.name} ({created.email}).")
    return redirect(url_for("console.staff"))


def _set_active(user_id: uuid.UUID, *, active: bool) -> ResponseReturnValue:
    try:
        changed = users.set_active(**console_ctx().args(), user_id=user_id, active=active)
    except Conflict as exc:
        return _staff_page(409, message=exc.message)
    if active:
        flash(f"Reactivated the account of {changed.name}; they sign in again.")
    else:
        flash(f"Deactivated the account of {changed.name}; every session it had has ended.")
    return redirect(url_for("console.staff"))


@bp.route("/admin/staff/<uuid:user_id>/deactivate", methods=["POST"])
@admin_only
def deactivate_staff(user_id: uuid.UUID) -> ResponseReturnValue:
    return _set_active(user_id, active=False)


@bp.route("/admin/staff/<uuid:user_id>/reactivate", methods=["POST"])
@admin_only
def reactivate_staff(user_id: uuid.UUID) -> ResponseReturnValue:
    return _set_active(user_id, active=True)


@bp.route("/admin/care-teams")
@admin_only
def care_teams() -> ResponseReturnValue:
    results = find_patients(request.args.get("q", ""))
    if request.headers.get("HX-Request"):
        return render_template("admin/_patients.html", **results)
    return render_template("admin/care_teams.html", section="admin", **results)


def _team_page(status: int, patient_id: uuid.UUID, **context: Any) -> ResponseReturnValue:
    c = console_ctx()
    patient = patients.get_patient(**c.args(), patient_id=patient_id)
    team = patients.get_care_team(**c.args(), patient_id=patient_id)
    clinicians = users.list_staff(
        **c.args_without_clock(), role=Role.CLINICIAN, limit=MAX_PAGE, offset=0
    )
    on_team = {m.clinician_id for m in team}
    page = render_template(
        "admin/care_team.html",
        section="admin",
        patient=patient,
        team=team,
        choices=[s for s in clinicians if s.id not in on_team],
        **context,
    )
    return page, status


@bp.route("/admin/care-teams/<uuid:patient_id>")
@admin_only
def care_team(patient_id: uuid.UUID) -> ResponseReturnValue:
    return _team_page(200, patient_id)


@bp.route("/admin/care-teams/<uuid:patient_id>/members", methods=["POST"])
@admin_only
def add_care_team_member(patient_id: uuid.UUID) -> ResponseReturnValue:
    try:
        body = CareTeamAddSchema().load({"clinician_id": request.form.get("clinician_id", "")})
    except ValidationError as exc:
        return _team_page(422, patient_id, errors=field_errors(exc))
    try:
        team = patients.add_care_team_member(
            **console_ctx().args(), patient_id=patient_id, clinician_id=body["clinician_id"]
        )
    except ValidationFailed as exc:
        return _team_page(422, patient_id, errors=exc.errors, message=exc.message)
    except Conflict as exc:
        return _team_page(409, patient_id, message=exc.message)
    added = next(m for m in team if m.clinician_id == body["clinician_id"])
    flash(f"Added {added.name} to the care team.")
    return redirect(url_for("console.care_team", patient_id=patient_id))


@bp.route(
    "/admin/care-teams/<uuid:patient_id>/members/<uuid:clinician_id>/remove", methods=["POST"]
)
@admin_only
def remove_care_team_member(patient_id: uuid.UUID, clinician_id: uuid.UUID) -> ResponseReturnValue:
    try:
        patients.remove_care_team_member(
            **console_ctx().args(), patient_id=patient_id, clinician_id=clinician_id
        )
    except Conflict as exc:
        return _team_page(409, patient_id, message=exc.message)
    flash("Removed the clinician from the care team; the membership stays in the history.")
    return redirect(url_for("console.care_team", patient_id=patient_id))
