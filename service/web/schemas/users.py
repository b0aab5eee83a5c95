from __future__ import annotations

from marshmallow import fields, validate

from service.domain.accounts import STAFF_ROLES
from service.web.schemas.common import PageQuery, StrictSchema, email, password, text

STAFF = [r.value for r in STAFF_ROLES]


class UserCreateSchema(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(STAFF))
    email = email(required=True)
    password = password(required=True)
    name = text(max_length=200, required=True)


class UserSchema(StrictSchema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    is_active = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)


class UserQuery(PageQuery):
    role = fields.String(validate=validate.OneOf(STAFF))
