"""A patient's audit trail, for the care team."""

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
from service.usecases.audit import AuditEntry, list_patient_audit
from service.web.schemas.audit import AuditEventSchema
from service.web.schemas.common import PageQuery

blp = Blueprint("audit", __name__, url_prefix="/v1/patients", description="Audit trail")


@blp.route("/<uuid:patient_id>/audit")
class PatientAudit(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_patient_audit")
    @query_args(blp, PageQuery)
    @list_response(blp, AuditEventSchema, example=examples.response("list_patient_audit"))
    @errors(blp, *AUTH, 403, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[AuditEntry]:
        """Every write and every read of this patient's records, oldest first."""
        return list_patient_audit(
            **ctx().args(),
            patient_id=patient_id,
            limit=query["limit"],
            offset=query["offset"],
        )
