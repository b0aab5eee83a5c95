from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from service.web.schemas.common import StrictSchema


class AgentSchema(StrictSchema):
    who = fields.UUID(allow_none=True, required=True)
    role = fields.String(allow_none=True, required=True)


class EntitySchema(StrictSchema):
    type = fields.String(required=True)
    id = fields.String(allow_none=True, required=True)
    patient = fields.UUID(allow_none=True, required=True)


class SourceSchema(StrictSchema):
    request_id = fields.String(
        allow_none=True, required=True, metadata={"description": "The server's id."}
    )
    client_request_id = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The X-Request-ID the client sent, if any."},
    )
    address = fields.String(allow_none=True, required=True)


class AuditEventSchema(StrictSchema):
    """After FHIR AuditEvent: action C/R/U/D/E, outcome 0/4/8/12."""

    id = fields.Integer(required=True)
    recorded = fields.AwareDateTime(required=True)
    action = fields.String(required=True)
    subtype = fields.String(required=True)
    outcome = fields.String(required=True)
    outcome_desc = fields.String(
        allow_none=True, required=True, metadata={"description": "Why it failed, if it did."}
    )
    agent = fields.Nested(AgentSchema, required=True)
    entity = fields.Nested(EntitySchema, required=True)
    source = fields.Nested(SourceSchema, required=True)
    before = fields.Dict(allow_none=True, required=True)
    after = fields.Dict(allow_none=True, required=True)

    @ma.pre_dump
    def shape(self, ev: Any, **_: Any) -> dict[str, Any]:
        return {
            "id": ev.id,
            "recorded": ev.recorded,
            "action": ev.action,
            "subtype": ev.subtype,
            "outcome": ev.outcome,
            "outcome_desc": ev.outcome_desc,
            "agent": {"who": ev.actor_id, "role": ev.actor_role},
            "entity": {"type": ev.entity_type, "id": ev.entity_id, "patient": ev.patient_id},
            "source": {
                "request_id": ev.request_id,
                "client_request_id": ev.client_request_id,
                "address": ev.source_ip,
            },
            "before": ev.before,
            "after": ev.after,
        }
