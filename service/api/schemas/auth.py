from __future__ import annotations

from marshmallow import fields, validate

from service.api.schemas.common import StrictSchema, email, password, text


class TokenRequestSchema(StrictSchema):
    email = email(required=True)
    password = password(required=True)


class TokenSchema(StrictSchema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})


class ActivateSchema(StrictSchema):
    activation_code = text(max_length=32, required=True, metadata={"example": "K7Q2-M9XD-3FTA"})
    password = password(required=True)


class MeSchema(StrictSchema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(["admin", "clinician", "patient"]))
    patient_id = fields.UUID(allow_none=True, required=True)
