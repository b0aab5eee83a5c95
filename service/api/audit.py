"""A patient's audit trail, for the care team."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.usecases.audit import AuditEntry, list_patient_audit
from service.web.schemas.audit import AuditEventSchema
from service.web.schemas.common import PageQuery

blp = Blueprint("audit", __name__, url_prefix="/v1/patients", description="Audit trail")


@blp.route("/<uuid:patient_id>/audit")
class PatientAudit(MethodView):
    decorators = [require_auth]

    @blp.arguments(PageQuery, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @errors(blp, *AUTH, 403, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[AuditEntry]:
        """Every write and every read of this patient's records, oldest first."""
        return list_patient_audit(
            **ctx().args(),
            patient_id=patient_id,
            limit=query["limit"],
            offset=query["offset"],
        )
