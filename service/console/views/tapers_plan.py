"""A taper plan's page: its chart and steps, the symptom reports beside them, the
dispensing table (views/dispensing.py), and the clinician's changes (approve, pause,
resume, extend, step back, cancel), each calling the use case the JSON API calls,
with the body the API would receive."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError, validate

from service.console.blueprint import bp
from service.console.forms import field_errors
from service.console.session import console_ctx, signed_in
from service.console.views.dispensing import dispensing_parts
from service.console.views.tapers_form import approve_body, change_body
from service.console.views.tapers_steps import NOTE_NAMES, StepWords, svg
from service.domain.taper import Note, Step, TaperPlan
from service.domain.taper.arith import text
from service.domain.taper.status import PlanChange, allowed_from
from service.usecases import patients, taper_plans, taper_symptoms
from service.usecases.errors import Conflict, NotFound, ValidationFailed
from service.usecases.taper_plans import TaperPlanView
from service.web.context import RequestContext
from service.web.refusals import status_of
from service.web.schemas.common import ReasonSchema
from service.web.schemas.tapers import ApproveSchema, ExtendSchema, StepBackSchema

__all__ = ["taper_action", "taper_plan"]

# A change as the API's view makes it: the use case, called with the loaded body.
Act = Callable[[RequestContext, uuid.UUID, dict[str, Any]], TaperPlanView]


def _approve(c: RequestContext, plan_id: uuid.UUID, body: dict[str, Any]) -> TaperPlanView:
    return taper_plans.approve_taper_plan(
        **c.planning_args(),
        plan_id=plan_id,
        approve_flagged=body["approve_flagged"],
        acknowledge=body["acknowledge"],
        reason=body["reason"],
    )


def _pause(c: RequestContext, plan_id: uuid.UUID, body: dict[str, Any]) -> TaperPlanView:
    return taper_plans.pause_taper_plan(**c.planning_args(), plan_id=plan_id, reason=body["reason"])


def _resume(c: RequestContext, plan_id: uuid.UUID, body: dict[str, Any]) -> TaperPlanView:
    return taper_plans.resume_taper_plan(
        **c.planning_args(), plan_id=plan_id, reason=body["reason"]
    )


def _extend(c: RequestContext, plan_id: uuid.UUID, body: dict[str, Any]) -> TaperPlanView:
    return taper_plans.extend_taper_plan(
        **c.planning_args(), plan_id=plan_id, days=body["days"], reason=body["reason"]
    )


def _step_back(c: RequestContext, plan_id: uuid.UUID, body: dict[str, Any]) -> TaperPlanView:
    return taper_plans.step_back_taper_plan(
        **c.planning_args(), plan_id=plan_id, hold_days=body["hold_days"], reason=body["reason"]
    )


def _cancel(c: RequestContext, plan_id: uuid.UUID, body: dict[str, Any]) -> TaperPlanView:
    return taper_plans.cancel_taper_plan(
        **c.planning_args(), plan_id=plan_id, reason=body["reason"]
    )


def _told(action: str, plan: TaperPlanView, body: dict[str, Any]) -> str:
    """What the clinician is told after a change."""
    current = plan.steps[plan.current_step] if 0 <= plan.current_step < len(plan.steps) else None
    dose = f"{text(current.daily_dose_mg)} mg a day" if current else "the current dose"
    return {
        "approve": f"Plan approved: it starts on {plan.steps[0].start_date.isoformat()}.",
        "pause": f"Plan paused: the patient stays on {dose} until it is resumed.",
        "resume": "Plan resumed: the current step lasts as long again as the pause.",
        "extend": f"Plan extended: the current step lasts {body.get('days')} days longer.",
        "step-back": "Stepped back to the last dose tolerated, from tomorrow.",
        "cancel": f"Plan cancelled: the prescription keeps {dose}.",
    }[action]


# Each change: the API's schema, the form read as the API's body, and the use case.
CHANGES: dict[str, tuple[Schema, Callable[[Any], dict[str, Any]], Act]] = {
    "approve": (ApproveSchema(), approve_body, _approve),
    "pause": (ReasonSchema(), change_body, _pause),
    "resume": (ReasonSchema(), change_body, _resume),
    "extend": (ExtendSchema(), lambda form: change_body(form, "days"), _extend),
    "step-back": (StepBackSchema(), lambda form: change_body(form, "hold_days"), _step_back),
    "cancel": (ReasonSchema(), change_body, _cancel),
}
# The forms a plan in a given status shows: the changes its status allows (the domain's
# table, service/domain/taper/status.py).
OFFERED = {
    "approve": PlanChange.APPROVE,
    "extend": PlanChange.EXTEND,
    "step-back": PlanChange.STEP_BACK,
    "pause": PlanChange.PAUSE,
    "resume": PlanChange.RESUME,
    "cancel": PlanChange.CANCEL,
}


def _bounds(schema: Schema, name: str) -> dict[str, Any]:
    """The range the API's schema allows a number, for the form's min and max."""
    for rule in schema.fields[name].validators:
        if isinstance(rule, validate.Range):
            return {"min": rule.min, "max": rule.max}
    return {}


def _limits() -> dict[str, dict[str, Any]]:
    """The day counts the changes take, as the API's schemas bound them."""
    return {
        "days": _bounds(ExtendSchema(), "days"),
        "hold_days": _bounds(StepBackSchema(), "hold_days"),
    }


def _to_approve(plan: TaperPlanView) -> tuple[list[Step], list[Note]]:
    """What an approval must list, as the domain says: the steps over the cap one by
    one (`steps_to_approve`), and the notes approved once with the plan (`approvals`);
    notes about steps over the cap are answered by confirming those steps."""
    planned = TaperPlan(steps=plan.steps, notes=plan.notes)
    steps = [s for s in plan.steps if s.index in planned.steps_to_approve]
    return steps, [n for n in plan.notes if n.code in planned.approvals]


def _who(c: RequestContext, patient_id: uuid.UUID) -> Callable[[uuid.UUID], str]:
    """Names for the care team's ids: "you" for the one signed in."""
    team = {
        m.clinician_id: m.name for m in patients.get_care_team(**c.args(), patient_id=patient_id)
    }
    me = g.principal.user_id

    def who(user_id: uuid.UUID) -> str:
        return "you" if user_id == me else team.get(user_id, "a former care-team member")

    return who


def _plan_at(c: RequestContext, patient_id: uuid.UUID, plan_id: uuid.UUID) -> TaperPlanView:
    """The plan, which must be the patient's the address names (404 otherwise, as
    for a plan the caller may not see)."""
    plan = taper_plans.get_taper_plan(**c.args(), plan_id=plan_id)
    if plan.patient_id != patient_id:
        raise NotFound(f"No taper plan {plan_id}.")
    return plan


def plan_page(
    patient_id: uuid.UUID, plan_id: uuid.UUID, status: int = 200, **refused: Any
) -> ResponseReturnValue:
    """The plan as it stands, with `refused` (the change tried, its message and
    errors, what was typed) beside its form."""
    c = console_ctx()
    patient = patients.get_patient(**c.args(), patient_id=patient_id)
    plan = _plan_at(c, patient_id, plan_id)
    chart = taper_plans.taper_chart(**c.args(), plan_id=plan_id)
    reports = taper_symptoms.list_symptom_reports(**c.args(), kb=c.kb, plan_id=plan_id)
    offered = [a for a, change in OFFERED.items() if plan.status in allowed_from(change)]
    flagged, to_acknowledge = _to_approve(plan)
    context = {
        "patient": patient,
        "plan": plan,
        "chart": svg(chart),
        "reports": reports,
        "who": _who(c, patient_id),
        "note_names": NOTE_NAMES,
        "offered": offered,
        "flagged": flagged,
        "to_acknowledge": to_acknowledge,
        "words": StepWords(notes=plan.notes, approved=plan.approved_steps),
        "refused": refused,
        "limits": _limits(),
        **dispensing_parts(c, patient_id, plan_id),
    }
    return render_template("tapers/plan.html", section="patients", **context), status


@bp.route("/patients/<uuid:patient_id>/tapers/<uuid:plan_id>")
@signed_in
def taper_plan(patient_id: uuid.UUID, plan_id: uuid.UUID) -> ResponseReturnValue:
    """The plan's page: chart, steps, symptom reports and the changes it can take."""
    return plan_page(patient_id, plan_id)


@bp.route(
    "/patients/<uuid:patient_id>/tapers/<uuid:plan_id>/"
    "<any(approve, pause, resume, extend, 'step-back', cancel):action>",
    methods=["POST"],
)
@signed_in
def taper_action(patient_id: uuid.UUID, plan_id: uuid.UUID, action: str) -> ResponseReturnValue:
    """One change to the plan, as POST /v1/taper-plans/{plan}/{action} makes it."""
    schema, read, act = CHANGES[action]
    typed = {
        "typed": request.form.to_dict(),
        "typed_flagged": request.form.getlist("approve_flagged"),
        "typed_acknowledged": request.form.getlist("acknowledge"),
    }
    c = console_ctx()
    _plan_at(c, patient_id, plan_id)
    try:
        body = schema.load(read(request.form))
        plan = act(c, plan_id, body)
    except ValidationError as exc:
        return plan_page(
            patient_id,
            plan_id,
            422,
            action=action,
            message="Check the form.",
            errors=field_errors(exc),
            **typed,
        )
    except (ValidationFailed, Conflict) as exc:
        return plan_page(
            patient_id,
            plan_id,
            status_of(exc),
            action=action,
            message=exc.message,
            errors=exc.errors,
            **typed,
        )
    flash(_told(action, plan, body))
    return redirect(url_for("console.taper_plan", patient_id=plan.patient_id, plan_id=plan.id))
