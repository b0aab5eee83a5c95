"""Doses for the mobile app: list them, log them, snooze reminders, as-needed doses
and adherence."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.etags import IF_NONE_MATCH, conditional_json
from service.api.lists import list_response
from service.api.queries import query_args
from service.usecases import adherence, adherence_csv, doses
from service.usecases.doses import DoseView
from service.web.schemas.doses import (
    AdherenceCsvQuery,
    AdherenceQuery,
    AdherenceSchema,
    DoseEventSchema,
    SkippedSchema,
    SnoozeSchema,
    TakenSchema,
    TodaySchema,
    TooSoonSchema,
    WindowQuery,
)

blp = Blueprint("doses", __name__, url_prefix="/v1", description="Doses and adherence")


@blp.route("/patients/<uuid:patient_id>/doses")
class PatientDoses(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_patient_doses")
    @query_args(blp, WindowQuery)
    @list_response(
        blp, DoseEventSchema, example=examples.response("list_patient_doses"), paged=False
    )
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[DoseView]:
        """Doses in [from, to), planned and recorded, oldest first.

        `scheduled_at` is UTC; `local_time` is the same instant with the patient's
        offset. Doses beyond the planning horizon are shown as the current terms
        will plan them.
        """
        return doses.list_doses(
            **ctx().planning_args(),
            patient_id=patient_id,
            start=query["from_"],
            end=query["to"],
        )


@blp.route("/me/doses/today")
class TodaysDoses(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_today_doses", parameters=[IF_NONE_MATCH])
    @blp.response(200, TodaySchema, example=examples.response("list_today_doses"))
    @blp.alt_response(
        304,
        description="Not modified: the ETag sent in If-None-Match is still today's.",
        headers={"ETag": {"schema": {"type": "string"}}},
    )
    @errors(blp, 401, 403)
    def get(self) -> Response:
        """The signed-in patient's doses for their local today (the app's home screen).

        The answer carries a strong ETag; send it back in If-None-Match and an
        unchanged day is 304 with no body (the read is audited all the same)."""
        today, found = doses.todays_doses(**ctx().planning_args())
        return conditional_json(TODAY.dump({"date": today, "doses": found}))


TODAY = TodaySchema()


@blp.route("/doses/<uuid:dose_id>/taken")
class Taken(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="log_dose_taken")
    @blp.arguments(TakenSchema, example=examples.request("log_dose_taken"))
    @blp.response(200, DoseEventSchema, example=examples.response("log_dose_taken"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], dose_id: uuid.UUID) -> DoseView:
        """Log the dose taken (default now; late logging allowed). Logging a dose
        already logged corrects it; the audit log keeps both."""
        c = ctx()
        return doses.mark_taken(
            **c.args(),
            policy=c.reminders,
            dose_id=dose_id,
            taken_at=body["taken_at"],
        )


@blp.route("/doses/<uuid:dose_id>/skipped")
class Skipped(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="log_dose_skipped")
    @blp.arguments(SkippedSchema, example=examples.request("log_dose_skipped"))
    @blp.response(200, DoseEventSchema, example=examples.response("log_dose_skipped"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], dose_id: uuid.UUID) -> DoseView:
        """Log the dose skipped, with an optional reason."""
        c = ctx()
        return doses.mark_skipped(
            **c.args(),
            policy=c.reminders,
            dose_id=dose_id,
            reason=body["reason"],
        )


@blp.route("/doses/<uuid:dose_id>/snooze")
class Snooze(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="snooze_dose")
    @blp.arguments(SnoozeSchema, example=examples.request("snooze_dose"))
    @blp.response(200, DoseEventSchema, example=examples.response("snooze_dose"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], dose_id: uuid.UUID) -> DoseView:
        """Remind again in `minutes` (5 to 240)."""
        c = ctx()
        return doses.snooze(
            **c.args(),
            policy=c.reminders,
            dose_id=dose_id,
            minutes=body["minutes"],
        )


@blp.route("/patients/<uuid:patient_id>/prescriptions/<uuid:rx_id>/prn-doses")
class PrnDoses(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="log_prn_dose")
    @blp.arguments(TakenSchema, example=examples.request("log_prn_dose"))
    @blp.response(201, DoseEventSchema, example=examples.response("log_prn_dose"))
    @blp.alt_response(
        409,
        schema=TooSoonSchema,
        description="Too soon (`next_allowed_at` says when), or not an active as-needed "
        "prescription.",
    )
    @errors(blp, *AUTH, 403, 404)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID) -> DoseView:
        """Log an as-needed dose. Refused (409) while the maximum per 24 hours or the
        minimum interval would be broken; the answer says when the next is allowed."""
        return doses.log_prn_dose(
            **ctx().planning_args(),
            patient_id=patient_id,
            rx_id=rx_id,
            taken_at=body["taken_at"],
        )


def _adherence(query: dict[str, Any], patient_id: uuid.UUID) -> adherence.AdherenceReport:
    return adherence.adherence(
        **ctx().planning_args(),
        patient_id=patient_id,
        start=query["from_"],
        end=query["to"],
    )


@blp.route("/patients/<uuid:patient_id>/adherence")
class Adherence(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_adherence")
    @query_args(blp, AdherenceQuery)
    @blp.response(200, AdherenceSchema, example=examples.response("get_adherence"))
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> dict[str, Any]:
        """The patient's scheduled doses over [from, to), overall and per prescription:
        taken on time, early or late (outside `on_time_window_minutes` before or after
        their time), skipped, missed, or not due yet. `percentage` is taken / due,
        `on_time_percentage` on time / due; `due` excludes doses still open."""
        report = _adherence(query, patient_id)
        return {
            "patient": {"id": report.patient_id, "name": report.patient_name},
            # The period as instants, also when it was asked for by dates.
            "from_": report.start,
            "to": report.end,
            "period": {
                "from_": report.period_start,
                "to": report.period_end,
                "timezone": report.timezone,
            },
            "on_time_window_minutes": report.on_time_window_minutes,
            "overall": report.overall,
            "prescriptions": report.prescriptions,
        }


@blp.route("/patients/<uuid:patient_id>/adherence.csv")
class AdherenceCsv(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_adherence_csv")
    @query_args(blp, AdherenceCsvQuery)
    @blp.response(
        200,
        content_type="text/csv",
        description="Every row starts with the patient and the period. `detail=prescriptions`: "
        "a row per prescription, then the `overall` row; `detail=doses`: a row per dose.",
    )
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> Response:
        """The adherence report as CSV, for the clinician's records (columns in the README,
        "Adherence")."""
        report = _adherence(query, patient_id)
        per_dose = query["detail"] == "doses"
        text = adherence_csv.doses_csv(report) if per_dose else adherence_csv.summary_csv(report)
        day = ctx().clock().date().isoformat()
        name = (
            f"adherence-doses-{patient_id}-{day}" if per_dose else f"adherence-{patient_id}-{day}"
        )
        return Response(
            text,
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
