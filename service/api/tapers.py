"""Taper plans: previews for clinicians."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.schemas.common import ReasonSchema
from service.api.schemas.tapers import (
    ApproveSchema,
    ExtendSchema,
    StepBackSchema,
    SymptomReportInSchema,
    SymptomReportSchema,
    SymptomReportsSchema,
    TaperCreateSchema,
    TaperPlanSchema,
    TaperPreviewSchema,
    TaperSettingsSchema,
)
from service.domain.taper.status import PlanChange
from service.usecases import taper_plans, taper_symptoms, tapers
from service.usecases.taper_plans import SymptomReportView, TaperPlanView
from service.usecases.tapers import TaperPreview

blp = Blueprint("tapers", __name__, url_prefix="/v1", description="Taper plans")


@blp.route("/taper-plans/preview")
class Preview(MethodView):
    decorators = [require_auth]

    @blp.arguments(TaperSettingsSchema)
    @blp.response(200, TaperPreviewSchema)
    @errors(blp, *AUTH, 403)
    def post(self, body: dict[str, Any]) -> TaperPreview:
        """Generate a taper plan to review (clinicians; nothing is stored).

        The first step is the current dose and the last the target. Each step gives
        its dates (end inclusive), daily dose, cut from the step before, flags
        (`exceeds_cap_needs_approval`, `jump_off`, `extended`) and what to take at
        each time: tablets (halves, quarters as scored) or millilitres of a liquid,
        adding up exactly to the dose. Settings no formulation can make, a negative
        dose, a zero cap or a target above the start get 422 saying which field.
        """
        c = ctx()
        return tapers.preview_taper(caller=c.caller, kb=c.kb, body=body)


@blp.route("/patients/<uuid:patient_id>/prescriptions/<uuid:rx_id>/taper-plans")
class PlansOfPrescription(MethodView):
    decorators = [require_auth]

    @blp.arguments(TaperCreateSchema)
    @blp.response(201, TaperPlanSchema)
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID) -> TaperPlanView:
        """Draft a taper plan for an active prescription (clinicians on the care team),
        from the same settings as the preview; nothing changes until it is approved."""
        c = ctx()
        return taper_plans.create_taper_plan(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            rx_id=rx_id,
            body=body,
        )


@blp.route("/taper-plans/<uuid:plan_id>")
class Plan(MethodView):
    decorators = [require_auth]

    @blp.response(200, TaperPlanSchema)
    @errors(blp, 401, 404)
    def get(self, plan_id: uuid.UUID) -> TaperPlanView:
        """The plan as it stands, with every version (the patient and the care team)."""
        return taper_plans.get_taper_plan(**ctx().args(), plan_id=plan_id)


@blp.route("/taper-plans/<uuid:plan_id>/chart.svg")
class Chart(MethodView):
    decorators = [require_auth]

    @blp.response(200, content_type="image/svg+xml", description="A standalone SVG (no scripts).")
    @errors(blp, 401, 404)
    def get(self, plan_id: uuid.UUID) -> Response:
        """The plan as a chart for the patient app and clinicians: daily dose over
        time, one element per step, today marked, completed steps shaded, steps
        over the cap marked."""
        svg = taper_plans.taper_chart(**ctx().args(), plan_id=plan_id)
        return Response(svg, mimetype="image/svg+xml")


@blp.route("/taper-plans/<uuid:plan_id>/approve")
class Approve(MethodView):
    decorators = [require_auth]

    @blp.arguments(ApproveSchema)
    @blp.response(200, TaperPlanSchema)
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
        """Approve a draft. Every step flagged `exceeds_cap_needs_approval` must be
        listed in `approve_flagged` (409 names those missing)."""
        return taper_plans.approve_taper_plan(
            **ctx().planning_args(),
            plan_id=plan_id,
            approve_flagged=body["approve_flagged"],
            reason=body["reason"],
        )


@blp.route("/taper-plans/<uuid:plan_id>/extend")
class Extend(MethodView):
    decorators = [require_auth]

    @blp.arguments(ExtendSchema)
    @blp.response(200, TaperPlanSchema)
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
        """Hold the current step `days` longer; later steps move with it."""
        return taper_plans.extend_taper_plan(
            **ctx().planning_args(),
            plan_id=plan_id,
            days=body["days"],
            reason=body["reason"],
        )


@blp.route("/taper-plans/<uuid:plan_id>/step-back")
class StepBack(MethodView):
    decorators = [require_auth]

    @blp.arguments(StepBackSchema)
    @blp.response(200, TaperPlanSchema)
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
        """Go back to the last tolerated dose (the step before the current one) from
        tomorrow, hold it `hold_days`, then try the same cuts again, each step at
        least as long as before. A paused plan runs again. The steps already
        completed are unchanged (a new version, audited)."""
        return taper_plans.step_back_taper_plan(
            **ctx().planning_args(),
            plan_id=plan_id,
            hold_days=body["hold_days"],
            reason=body["reason"],
        )


@blp.route("/taper-plans/<uuid:plan_id>/symptom-reports")
class SymptomReports(MethodView):
    decorators = [require_auth]

    @blp.response(200, SymptomReportsSchema)
    @errors(blp, 401, 404)
    def get(self, plan_id: uuid.UUID) -> taper_symptoms.SymptomReports:
        """The plan's withdrawal scale (items to rate), its threshold and the
        reports so far, newest first (the patient and the care team)."""
        c = ctx()
        return taper_symptoms.list_symptom_reports(**c.args(), kb=c.kb, plan_id=plan_id)

    @blp.arguments(SymptomReportInSchema)
    @blp.response(201, SymptomReportSchema)
    @errors(blp, *AUTH, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> SymptomReportView:
        """Report withdrawal symptoms on the plan's short scale (CIWA-B items for
        benzodiazepines, DESS items for antidepressants...). At or above the
        clinician's threshold a hold is proposed and the care team is told; a
        report never changes a dose."""
        c = ctx()
        return taper_symptoms.report_symptoms(
            **c.args(),
            kb=c.kb,
            plan_id=plan_id,
            items=body["items"],
            total=body["total"],
            note=body["note"],
        )


def _reasoned(change: PlanChange, summary: str) -> type[MethodView]:
    act = {
        PlanChange.PAUSE: taper_plans.pause_taper_plan,
        PlanChange.RESUME: taper_plans.resume_taper_plan,
        PlanChange.CANCEL: taper_plans.cancel_taper_plan,
    }[change]

    class Change(MethodView):
        decorators = [require_auth]

        @blp.arguments(ReasonSchema)
        @blp.response(200, TaperPlanSchema)
        @errors(blp, *AUTH, 403, 404, 409)
        def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
            return act(
                **ctx().planning_args(),
                plan_id=plan_id,
                reason=body["reason"],
            )

    Change.post.__doc__ = summary
    Change.__name__ = f"{change.value.title()}TaperPlan"
    return Change


for _change, _summary in (
    (PlanChange.PAUSE, "Hold the current dose; no step starts until resumed."),
    (PlanChange.RESUME, "Carry on; the current step lasts as long again as the pause did."),
    (PlanChange.CANCEL, "End the plan; the prescription keeps its current dose."),
):
    blp.route(f"/taper-plans/<uuid:plan_id>/{_change.value}")(_reasoned(_change, _summary))
