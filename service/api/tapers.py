"""Taper plans: previews for clinicians; drafting, running and finding a patient's
plans; their charts, also through short-lived signed links."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.domain.taper.status import PlanChange
from service.usecases import taper_finding, taper_plans, taper_symptoms, tapers
from service.usecases.taper_chart_links import (
    ChartLink,
    ChartLinks,
    issue_chart_link,
    linked_chart,
)
from service.usecases.taper_plans import SymptomReportView, TaperPlanView
from service.usecases.tapers import TaperPreview
from service.web.schemas.common import PageQuery, ReasonSchema
from service.web.schemas.tapers import (
    ApproveSchema,
    ChartLinkQuery,
    ChartLinkSchema,
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

blp = Blueprint("tapers", __name__, url_prefix="/v1", description="Taper plans")

# The chart answers a bearer token or, instead, a signed link's query parameters.
TOKEN_OR_LINK: dict[str, Any] = {"security": [{"bearerAuth": []}, {}]}


@blp.route("/taper-plans/preview")
class Preview(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="preview_taper_plan")
    @blp.arguments(TaperSettingsSchema, example=examples.request("preview_taper_plan"))
    @blp.response(200, TaperPreviewSchema, example=examples.response("preview_taper_plan"))
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

    @blp.doc(operationId="list_prescription_taper_plans")
    @query_args(blp, PageQuery)
    @list_response(blp, TaperPlanSchema, example=examples.response("list_prescription_taper_plans"))
    @errors(blp, *AUTH, 404)
    def get(
        self, query: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID
    ) -> list[TaperPlanView]:
        """The prescription's taper plans, newest first, each as GET
        /v1/taper-plans/{plan_id} shows it (the patient and the care team)."""
        return taper_finding.list_prescription_taper_plans(
            **ctx().args(),
            patient_id=patient_id,
            rx_id=rx_id,
            limit=query["limit"],
            offset=query["offset"],
        )

    @blp.doc(operationId="draft_taper_plan")
    @blp.arguments(TaperCreateSchema, example=examples.request("draft_taper_plan"))
    @blp.response(201, TaperPlanSchema, example=examples.response("draft_taper_plan"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID) -> TaperPlanView:
        """Draft a taper plan for an active prescription (clinicians on the care team),
        from the same settings as the preview; nothing changes until it is approved.

        `start_date` is today or later in the patient's time zone (422 otherwise). A
        draft the prescription already has is superseded: it ends `cancelled` by a
        `supersede` version whose reason names the new plan (audited). A plan
        approved, active or paused still answers 409 with its id."""
        c = ctx()
        return taper_plans.create_taper_plan(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            rx_id=rx_id,
            body=body,
        )


@blp.route("/patients/<uuid:patient_id>/taper-plans")
class PlansOfPatient(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_patient_taper_plans")
    @query_args(blp, PageQuery)
    @list_response(blp, TaperPlanSchema, example=examples.response("list_patient_taper_plans"))
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[TaperPlanView]:
        """The patient's taper plans, of every prescription, newest first (the patient
        and the care team)."""
        return taper_finding.list_patient_taper_plans(
            **ctx().args(), patient_id=patient_id, limit=query["limit"], offset=query["offset"]
        )


@blp.route("/me/taper-plans")
class MyPlans(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_my_taper_plans")
    @query_args(blp, PageQuery)
    @list_response(blp, TaperPlanSchema, example=examples.response("list_my_taper_plans"))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[TaperPlanView]:
        """The signed-in patient's own taper plans, newest first (403 for staff)."""
        return taper_finding.list_my_taper_plans(
            **ctx().args(), limit=query["limit"], offset=query["offset"]
        )


@blp.route("/taper-plans/<uuid:plan_id>")
class Plan(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_taper_plan")
    @blp.response(200, TaperPlanSchema, example=examples.response("get_taper_plan"))
    @errors(blp, 401, 404)
    def get(self, plan_id: uuid.UUID) -> TaperPlanView:
        """The plan as it stands, with every version (the patient and the care team)."""
        return taper_plans.get_taper_plan(**ctx().args(), plan_id=plan_id)


def _chart(plan_id: uuid.UUID) -> str:
    return taper_plans.taper_chart(**ctx().args(), plan_id=plan_id)


@blp.route("/taper-plans/<uuid:plan_id>/chart.svg")
class Chart(MethodView):
    @blp.doc(operationId="get_taper_chart")
    @blp.doc(**TOKEN_OR_LINK)
    @query_args(blp, ChartLinkQuery)
    @blp.response(200, content_type="image/svg+xml", description="A standalone SVG (no scripts).")
    @errors(blp, 401, 403, 404, 422)
    def get(self, query: dict[str, Any], plan_id: uuid.UUID) -> Response:
        """The plan as a chart for the patient app and clinicians: daily dose over
        time with axis titles and a legend, one element per step, today marked,
        completed steps shaded, steps over the cap marked, and who approved them and
        when.

        With a bearer token (the patient and the care team), or with none through a
        signed link from POST .../chart-links (`expires`, `link`, `sig`, all three):
        a link altered in any part, for another plan, or expired gets 403."""
        if query:
            c = ctx()
            given = ChartLink(
                plan_id=plan_id,
                expires=query.get("expires", -1),
                link=query.get("link", ""),
                sig=query.get("sig", ""),
            )
            svg = linked_chart(**c.args(), links=ChartLinks(c.settings.secret_key), given=given)
        else:
            svg = require_auth(_chart)(plan_id)
        return Response(svg, mimetype="image/svg+xml")


@blp.route("/taper-plans/<uuid:plan_id>/chart-links")
class ChartLinksOfPlan(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="create_taper_chart_link")
    @blp.response(201, ChartLinkSchema, example=examples.response("create_taper_chart_link"))
    @errors(blp, 401, 404)
    def post(self, plan_id: uuid.UUID) -> dict[str, Any]:
        """A link to the plan's chart that needs no Authorization header, for an
        image source (the patient and the care team). It names this plan only and
        expires five minutes later (`expires_at`); the issue and every fetch
        through it are audited. `url` is a path on this API, so that a proxy's inner
        host never leaks into it; the app joins it to the API's address."""
        c = ctx()
        issued = issue_chart_link(
            **c.args(), links=ChartLinks(c.settings.secret_key), plan_id=plan_id
        )
        url = url_for(
            "tapers.Chart",
            plan_id=issued.plan_id,
            expires=issued.expires,
            link=issued.link,
            sig=issued.sig,
        )
        return {"url": url, "expires_at": issued.expires_at}


@blp.route("/taper-plans/<uuid:plan_id>/approve")
class Approve(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="approve_taper_plan")
    @blp.arguments(ApproveSchema, example=examples.request("approve_taper_plan"))
    @blp.response(200, TaperPlanSchema, example=examples.response("approve_taper_plan"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
        """Approve a draft. Every step flagged `exceeds_cap_needs_approval` must be
        listed in `approve_flagged`, and every note with `needs_approval` (cuts the grid
        forces, short steps, a long plan) in `acknowledge`: 409 names those missing. The
        patient is told
        when the plan starts and at what dose (`taper-changed`)."""
        return taper_plans.approve_taper_plan(
            **ctx().planning_args(),
            plan_id=plan_id,
            approve_flagged=body["approve_flagged"],
            acknowledge=body["acknowledge"],
            reason=body["reason"],
        )


@blp.route("/taper-plans/<uuid:plan_id>/extend")
class Extend(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="extend_taper_step")
    @blp.arguments(ExtendSchema, example=examples.request("extend_taper_step"))
    @blp.response(200, TaperPlanSchema, example=examples.response("extend_taper_step"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
        """Hold the current step `days` longer; later steps move with it. Once the
        plan is approved, the patient is told the new dates (`taper-changed`)."""
        return taper_plans.extend_taper_plan(
            **ctx().planning_args(),
            plan_id=plan_id,
            days=body["days"],
            reason=body["reason"],
        )


@blp.route("/taper-plans/<uuid:plan_id>/step-back")
class StepBack(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="step_back_taper_plan")
    @blp.arguments(StepBackSchema, example=examples.request("step_back_taper_plan"))
    @blp.response(200, TaperPlanSchema, example=examples.response("step_back_taper_plan"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
        """Go back to the last tolerated dose (the step before the current one) from
        tomorrow, hold it `hold_days`, then try the same cuts again, each step at
        least as long as before. A paused plan runs again. The steps already
        completed are unchanged (a new version, audited). The patient is told the
        dose they go back to and from when (`taper-changed`)."""
        return taper_plans.step_back_taper_plan(
            **ctx().planning_args(),
            plan_id=plan_id,
            hold_days=body["hold_days"],
            reason=body["reason"],
        )


@blp.route("/taper-plans/<uuid:plan_id>/symptom-reports")
class SymptomReports(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_symptom_reports")
    @blp.response(200, SymptomReportsSchema, example=examples.response("list_symptom_reports"))
    @errors(blp, 401, 404)
    def get(self, plan_id: uuid.UUID) -> taper_symptoms.SymptomReports:
        """The plan's withdrawal scale (items to rate), its threshold and the
        reports so far, newest first (the patient and the care team)."""
        c = ctx()
        return taper_symptoms.list_symptom_reports(**c.args(), kb=c.kb, plan_id=plan_id)

    @blp.doc(operationId="report_symptoms")
    @blp.arguments(SymptomReportInSchema, example=examples.request("report_symptoms"))
    @blp.response(201, SymptomReportSchema, example=examples.response("report_symptoms"))
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

        @blp.doc(operationId=f"{change.value}_taper_plan")
        @blp.arguments(ReasonSchema, example=examples.request(f"{change.value}_taper_plan"))
        @blp.response(200, TaperPlanSchema, example=examples.response(f"{change.value}_taper_plan"))
        @errors(blp, *AUTH, 403, 404, 409)
        def post(self, body: dict[str, Any], plan_id: uuid.UUID) -> TaperPlanView:
            return act(
                **ctx().planning_args(),
                plan_id=plan_id,
                reason=body["reason"],
            )

    Change.post.__doc__ = (
        f"{summary}\n\nOnce the plan is approved, the patient is told what happens "
        "next (`taper-changed`)."
    )
    Change.__name__ = f"{change.value.title()}TaperPlan"
    return Change


for _change, _summary in (
    (PlanChange.PAUSE, "Hold the current dose; no step starts until resumed."),
    (PlanChange.RESUME, "Carry on; the current step lasts as long again as the pause did."),
    (PlanChange.CANCEL, "End the plan; the prescription keeps its current dose."),
):
    blp.route(f"/taper-plans/<uuid:plan_id>/{_change.value}")(_reasoned(_change, _summary))
