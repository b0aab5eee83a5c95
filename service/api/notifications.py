"""Messages about a patient, for those who may read the patient: a clinical read."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.usecases import outbox_view
from service.usecases.outbox_view import MessageDetails
from service.web.schemas.common import PageQuery
from service.web.schemas.outbox import MessageDetailsSchema

blp = Blueprint(
    "notifications",
    __name__,
    url_prefix="/v1/patients/<uuid:patient_id>",
    description="Messages about a patient (care team)",
)


@blp.route("/notifications")
class PatientNotifications(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_patient_notifications")
    @query_args(blp, PageQuery)
    @list_response(
        blp, MessageDetailsSchema, example=examples.response("list_patient_notifications")
    )
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[MessageDetails]:
        """Messages about the patient, to them or to their care team, newest first,
        with what each was about; for the care team and the patient, and audited."""
        c = ctx()
        return outbox_view.messages_about(
            **c.args(),
            refs=c.refs,
            patient_id=patient_id,
            limit=query["limit"],
            offset=query["offset"],
        )


@blp.route("/notifications/<string:ref>")
class PatientNotification(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_patient_notification")
    @blp.response(200, MessageDetailsSchema, example=examples.response("get_patient_notification"))
    @errors(blp, 401, 404)
    def get(self, patient_id: uuid.UUID, ref: str) -> MessageDetails:
        """One message about the patient by its reference (as an administrator sees it
        in the outbox): its kind, dose, times and content; audited under the patient."""
        c = ctx()
        return outbox_view.message_details(
            **c.args(),
            refs=c.refs,
            patient_id=patient_id,
            ref=ref,
        )
