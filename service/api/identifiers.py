"""The identifiers under which EHRs know a patient: the link the CDS Hooks service
follows to check an EHR's orders against the patient's record here."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.usecases import patient_identifiers
from service.usecases.patient_identifiers import IdentifierView
from service.web.schemas.identifiers import IdentifierCreateSchema, IdentifierSchema

blp = Blueprint(
    "identifiers",
    __name__,
    url_prefix="/v1/patients/<uuid:patient_id>",
    description="EHR identifiers of a patient",
)


@blp.route("/identifiers")
class Identifiers(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_patient_identifiers")
    @list_response(
        blp, IdentifierSchema, example=examples.response("list_patient_identifiers"), paged=False
    )
    @errors(blp, *AUTH, 404)
    def get(self, patient_id: uuid.UUID) -> list[IdentifierView]:
        """The identifiers under which EHRs know the patient."""
        return patient_identifiers.list_identifiers(**ctx().args(), patient_id=patient_id)

    @blp.doc(operationId="add_patient_identifier")
    @blp.arguments(IdentifierCreateSchema, example=examples.request("add_patient_identifier"))
    @blp.response(
        201, IdentifierSchema(many=True), example=examples.response("add_patient_identifier")
    )
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID) -> list[IdentifierView]:
        """Link the patient to an EHR's identifier (a clinician on the care team or an
        administrator). A value of a system names one patient: one linked to another
        patient is 409. The CDS Hooks service then reads this patient's record for an
        EHR call whose patient carries the identifier."""
        return patient_identifiers.add_identifier(
            **ctx().args(), patient_id=patient_id, system=body["system"], value=body["value"]
        )
