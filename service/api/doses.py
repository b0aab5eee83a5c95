"""Doses for the mobile app: list them, log them, snooze reminders, as-needed doses
and adherence."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.usecases import adherence, doses
from service.usecases.doses import DoseView
from service.web.schemas.doses import (
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

    @blp.arguments(WindowQuery, location="query")
    @blp.response(200, DoseEventSchema(many=True))
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

    @blp.response(200, TodaySchema)
    @errors(blp, 401, 403)
    def get(self) -> dict[str, Any]:
        """The signed-in patient's doses for their local today (the app's home screen)."""
        today, found = doses.todays_doses(**ctx().planning_args())
        return {"date": today, "doses": found}


@blp.route("/doses/<uuid:dose_id>/taken")
class Taken(MethodView):
    decorators = [require_auth]

    @blp.arguments(TakenSchema)
    @blp.response(200, DoseEventSchema)
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

    @blp.arguments(SkippedSchema)
    @blp.response(200, DoseEventSchema)
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

    @blp.arguments(SnoozeSchema)
    @blp.response(200, DoseEventSchema)
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

    @blp.arguments(TakenSchema)
    @blp.response(201, DoseEventSchema)
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


def _adherence(query: dict[str, Any], patient_id: uuid.UUID) -> list[adherence.AdherenceRow]:
    return adherence.adherence(
        **ctx().planning_args(),
        patient_id=patient_id,
        start=query["from_"],
        end=query["to"],
    )


@blp.route("/patients/<uuid:patient_id>/adherence")
class Adherence(MethodView):
    decorators = [require_auth]

    @blp.arguments(AdherenceQuery, location="query")
    @blp.response(200, AdherenceSchema)
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> dict[str, Any]:
        """Per prescription: scheduled doses taken on time, late, skipped and missed."""
        rows = _adherence(query, patient_id)
        return {"from_": query["from_"], "to": query["to"], "prescriptions": rows}


@blp.route("/patients/<uuid:patient_id>/adherence.csv")
class AdherenceCsv(MethodView):
    decorators = [require_auth]

    @blp.arguments(AdherenceQuery, location="query")
    @blp.response(200, content_type="text/csv", description="One row per prescription.")
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> Response:
        """The adherence table as CSV, for the clinician's records."""
        rows = _adherence(query, patient_id)
        day = ctx().clock().date().isoformat()
        return Response(
            adherence.adherence_csv(rows),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="adherence-{patient_id}-{day}.csv"'
            },
        )
