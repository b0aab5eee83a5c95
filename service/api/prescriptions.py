"""Prescriptions: entered by the care team, read by the patient, never edited in place."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.preconditions import ETAG_HEADER, IF_MATCH, etag, if_match
from service.api.queries import query_args
from service.domain.prescriptions import Action, Status
from service.usecases import prescriptions as rx
from service.usecases.prescriptions import PrescriptionRecord
from service.web.schemas.common import DiscontinueSchema, PageQuery, PauseSchema, ReasonSchema
from service.web.schemas.interactions import (
    ChangeConflictSchema,
    InteractionConflictSchema,
    UnresolvedDrugSchema,
)
from service.web.schemas.prescriptions import (
    PrescriptionCreateSchema,
    PrescriptionQuery,
    PrescriptionSchema,
    PrescriptionUpdateSchema,
)

# A prescription version and its entity tag header.
Versioned = tuple[PrescriptionRecord, dict[str, str]]

blp = Blueprint(
    "prescriptions",
    __name__,
    url_prefix="/v1/patients/<uuid:patient_id>/prescriptions",
    description="Prescriptions (versioned)",
)


@blp.route("")
class Prescriptions(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_prescriptions")
    @query_args(blp, PrescriptionQuery)
    @list_response(blp, PrescriptionSchema, example=examples.response("list_prescriptions"))
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[PrescriptionRecord]:
        """The patient's prescriptions (current versions), optionally by status."""
        status = Status(query["status"]) if "status" in query else None
        return rx.list_prescriptions(
            **ctx().args(),
            patient_id=patient_id,
            status=status,
            limit=query["limit"],
            offset=query["offset"],
        )

    @blp.doc(operationId="create_prescription")
    @blp.arguments(PrescriptionCreateSchema, example=examples.request("create_prescription"))
    @blp.response(
        201,
        PrescriptionSchema,
        headers=ETAG_HEADER,
        example=examples.response("create_prescription"),
    )
    @blp.alt_response(
        409,
        schema=InteractionConflictSchema,
        description="Interaction findings need an override or an acknowledgement.",
    )
    @blp.alt_response(
        422,
        schema=UnresolvedDrugSchema,
        description="Invalid input, or a drug the catalog does not resolve (with suggestions).",
    )
    @errors(blp, 401, 403, 404)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID) -> Versioned:
        """Prescribe (clinicians on the care team), after an interaction check.

        Contraindicated findings refuse the prescription (409, with the findings)
        unless `override.reason` is given; major findings need their ids in
        `acknowledge` (or an override). Moderate and minor findings are stored and
        returned. A drug the catalog does not list needs `confirm_unlisted: true`.
        """
        rec = rx.create_prescription(
            **ctx().planning_args(),
            patient_id=patient_id,
            terms=body["terms"],
            screening=body["screening"],
        )
        return rec, etag(rec.version)


@blp.route("/<uuid:rx_id>")
class PrescriptionView(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_prescription")
    @blp.response(
        200, PrescriptionSchema, headers=ETAG_HEADER, example=examples.response("get_prescription")
    )
    @errors(blp, *AUTH, 404)
    def get(self, patient_id: uuid.UUID, rx_id: uuid.UUID) -> Versioned:
        """The current version of a prescription; its `ETag` goes in `If-Match` of a change."""
        rec = rx.get_prescription(
            **ctx().args(),
            patient_id=patient_id,
            rx_id=rx_id,
        )
        return rec, etag(rec.version)

    @blp.doc(operationId="revise_prescription")
    @blp.arguments(PrescriptionUpdateSchema, example=examples.request("revise_prescription"))
    @blp.response(
        200,
        PrescriptionSchema,
        headers=ETAG_HEADER,
        example=examples.response("revise_prescription"),
    )
    @blp.doc(parameters=[IF_MATCH])
    @blp.alt_response(
        409,
        schema=ChangeConflictSchema,
        description="A discontinued prescription, a dose set by a taper plan, an abrupt stop "
        "or cut of a withdrawal-risk drug (abrupt-stop finding), or a dose above the label's "
        "maximum (dose-range finding).",
    )
    @errors(blp, *AUTH, 403, 404, 412)
    def patch(self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID) -> Versioned:
        """Change the terms; stored as a new version, the previous one is kept.

        Terms identical to the current ones store nothing and return the current version.
        With `If-Match`, the change applies only to the version named there (412 otherwise).
        """
        reason = body.pop("reason", None)
        abrupt = body.pop("abrupt_stop_reason", None)
        screening = body.pop("screening")
        rec = rx.revise_prescription(
            **ctx().planning_args(),
            patient_id=patient_id,
            rx_id=rx_id,
            changes=body,
            reason=reason,
            if_version=if_match(),
            abrupt_stop_reason=abrupt,
            screening=screening,
        )
        return rec, etag(rec.version)


@blp.route("/<uuid:rx_id>/versions")
class Versions(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_prescription_versions")
    @query_args(blp, PageQuery)
    @list_response(blp, PrescriptionSchema, example=examples.response("list_prescription_versions"))
    @errors(blp, *AUTH, 404)
    def get(
        self, query: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID
    ) -> list[PrescriptionRecord]:
        """The versions of the prescription, oldest first, a page at a time."""
        return rx.list_versions(
            **ctx().args(),
            patient_id=patient_id,
            rx_id=rx_id,
            limit=query["limit"],
            offset=query["offset"],
        )


def _status_view(action: Action, summary: str) -> type[MethodView]:
    schema = {Action.DISCONTINUE: DiscontinueSchema, Action.PAUSE: PauseSchema}.get(
        action, ReasonSchema
    )

    class StatusChange(MethodView):
        decorators = [require_auth]

        @blp.doc(operationId=f"{action.value}_prescription")
        @blp.arguments(schema, example=examples.request(f"{action.value}_prescription"))
        @blp.response(
            200,
            PrescriptionSchema,
            headers=ETAG_HEADER,
            example=examples.response(f"{action.value}_prescription"),
        )
        @blp.doc(parameters=[IF_MATCH])
        @blp.alt_response(
            409,
            schema=ChangeConflictSchema,
            description="A wrong status, or an abrupt stop of a withdrawal-risk drug.",
        )
        @errors(blp, *AUTH, 403, 404, 412)
        def post(self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID) -> Versioned:
            rec = rx.change_status(
                **ctx().planning_args(),
                patient_id=patient_id,
                rx_id=rx_id,
                action=action,
                reason=body["reason"],
                abrupt_stop_reason=body.get("abrupt_stop_reason"),
                if_version=if_match(),
                resume_on=body.get("resume_on"),
            )
            return rec, etag(rec.version)

    StatusChange.post.__doc__ = summary
    StatusChange.__name__ = f"{action.value.title()}Prescription"
    return StatusChange


for _action, _summary in (
    (
        Action.PAUSE,
        "Pause an active prescription (no doses until resumed, by hand or on resume_on). "
        "A withdrawal-risk drug paused with no resume_on is refused (409) unless "
        "abrupt_stop_reason says why.",
    ),
    (Action.RESUME, "Resume a paused prescription."),
    (
        Action.DISCONTINUE,
        "Stop a prescription for good; it stays on record. A withdrawal-risk drug "
        "is refused (409) unless abrupt_stop_reason says why it must stop without a taper.",
    ),
):
    blp.route(f"/<uuid:rx_id>/{_action.value}")(_status_view(_action, _summary))
