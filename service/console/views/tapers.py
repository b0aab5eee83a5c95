"""The taper planner: settings filled in from a prescription, a live preview (the
chart and the steps, as POST /v1/taper-plans/preview gives them) and the draft saved
as POST .../taper-plans saves it. The plan's own page and its changes are in
tapers_plan."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from marshmallow import ValidationError

from service.console.blueprint import bp
from service.console.errors import page
from service.console.forms import field_errors
from service.console.session import console_ctx, signed_in
from service.console.views import tapers_plan as tapers_plan
from service.console.views.tapers_form import (
    FORMULATION_ROWS,
    by_field,
    catalog_formulations,
    field_of,
    label_of,
    settings_body,
    starting_values,
)
from service.console.views.tapers_steps import StepWords, local_today, svg
from service.domain.taper import TaperPlan
from service.domain.taper.arith import text
from service.domain.taper.chart import chart_svg
from service.usecases import patients, taper_plans, tapers
from service.usecases import prescriptions as rx
from service.usecases.errors import Conflict, ValidationFailed
from service.usecases.tapers import TaperPreview
from service.web.context import RequestContext
from service.web.refusals import status_of
from service.web.schemas.tapers import TaperCreateSchema, TaperSettingsSchema

__all__ = ["create_taper", "new_taper", "taper_preview", "tapers_plan"]

CHECK_SETTINGS = "Check the settings: the plan cannot be made from them as they are."


@dataclass
class Preview:
    """The preview region: the plan and its chart, or what is wrong with the settings."""

    status: int = 200
    plan: TaperPreview | None = None
    chart: Markup | None = None
    message: str | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)


def _prescription_id(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw or "")
    except ValueError:
        return None


def _no_prescription() -> ResponseReturnValue:
    return page(
        422,
        "Choose the prescription to taper from the patient's chart.",
        {"prescription": ["Not a valid prescription id."]},
    )


def _previewed(c: RequestContext, form: Any, today: dt.date) -> Preview:
    """The plan POST /v1/taper-plans/preview would give for the form; nothing stored."""
    try:
        body = TaperSettingsSchema().load(settings_body(form, draft=False))
        plan = tapers.preview_taper(caller=c.caller, kb=c.kb, body=body)
    except ValidationError as exc:
        return Preview(status=422, message=CHECK_SETTINGS, errors=field_errors(exc))
    except ValidationFailed as exc:
        return Preview(status=422, message=exc.message, errors=exc.errors)
    drawn = chart_svg(
        TaperPlan(steps=plan.steps, notes=plan.notes),
        today=today,
        completed_steps=0,
        title=f"{plan.drug} taper, preview",
    )
    return Preview(plan=plan, chart=svg(drawn))


def _preview_context(preview: Preview) -> dict[str, Any]:
    words = StepWords(notes=preview.plan.notes if preview.plan else ())
    return {
        "preview": preview,
        "words": words,
        "field_of": field_of,
        "label_of": label_of,
        "by_field": by_field,
    }


def _planner(
    c: RequestContext,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    values: Any = None,
    *,
    preview: Preview | None = None,
    status: int = 200,
    **extra: Any,
) -> ResponseReturnValue:
    """The planner page: the settings (the prescription's unless `values` were
    typed), and the preview of what they make."""
    patient = patients.get_patient(**c.args(), patient_id=patient_id)
    rec = rx.get_prescription(**c.args(), patient_id=patient_id, rx_id=rx_id)
    today = local_today(patient.timezone, c.clock())
    if values is None:
        values = starting_values(rec, today + dt.timedelta(days=1))
    if preview is None:
        preview = _previewed(c, values, today)
    drug = c.kb.catalog.drugs.get(rec.drug_id or "")
    context = {
        "patient": patient,
        "rx": rec,
        "values": values,
        "rows": range(FORMULATION_ROWS),
        "catalog_formulations": catalog_formulations(drug),
        "catalog_floor": text(drug.taper_floor_mg) if drug and drug.taper_floor_mg else None,
        "preview_url": url_for("console.taper_preview", patient_id=patient_id, tz=patient.timezone),
        **_preview_context(preview),
        **extra,
    }
    return render_template("tapers/new.html", section="patients", **context), status


@bp.route("/patients/<uuid:patient_id>/tapers/new")
@signed_in
def new_taper(patient_id: uuid.UUID) -> ResponseReturnValue:
    """The planner for one of the patient's prescriptions, its settings filled in."""
    rx_id = _prescription_id(request.args.get("prescription"))
    if rx_id is None:
        return _no_prescription()
    return _planner(console_ctx(), patient_id, rx_id)


@bp.route("/patients/<uuid:patient_id>/tapers/preview", methods=["POST"])
@signed_in
def taper_preview(patient_id: uuid.UUID) -> ResponseReturnValue:
    """The live preview: a fragment for htmx, the whole planner without script."""
    c = console_ctx()
    today = local_today(request.args.get("tz"), c.clock())
    preview = _previewed(c, request.form, today)
    if request.headers.get("HX-Request"):
        page_part = render_template("tapers/_preview.html", **_preview_context(preview))
        return page_part, preview.status
    rx_id = _prescription_id(request.form.get("prescription"))
    if rx_id is None:
        return _no_prescription()
    return _planner(c, patient_id, rx_id, request.form, preview=preview, status=preview.status)


@bp.route("/patients/<uuid:patient_id>/tapers", methods=["POST"])
@signed_in
def create_taper(patient_id: uuid.UUID) -> ResponseReturnValue:
    """Save the settings as a draft, as POST .../taper-plans does; nothing changes
    for the patient until the plan is approved."""
    c = console_ctx()
    rx_id = _prescription_id(request.form.get("prescription"))
    if rx_id is None:
        return _no_prescription()
    try:
        body = TaperCreateSchema().load(settings_body(request.form, draft=True))
        plan = taper_plans.create_taper_plan(
            **c.args(), kb=c.kb, patient_id=patient_id, rx_id=rx_id, body=body
        )
    except ValidationError as exc:
        errors = field_errors(exc)
        return _planner(
            c, patient_id, rx_id, request.form, status=422, errors=errors, message=CHECK_SETTINGS
        )
    except (ValidationFailed, Conflict) as exc:
        return _planner(
            c,
            patient_id,
            rx_id,
            request.form,
            status=status_of(exc),
            errors=exc.errors,
            message=exc.message,
        )
    flash(
        f"Draft saved: a {plan.drug} taper in {len(plan.steps)} steps over {plan.total_days} "
        "days. Review it and approve it to start."
    )
    return redirect(url_for("console.taper_plan", patient_id=plan.patient_id, plan_id=plan.id))
