from __future__ import annotations

from marshmallow import fields, validate

from service.domain.accounts import NoticeKind, Role
from service.web.schemas.common import PageQuery, StrictSchema, email, password, text

_CODE_EXAMPLE = {"example": "K7Q2-M9XD-3FTA"}
# In the order the published contract lists them.
NOTICE_KINDS = [
    k.value
    for k in (
        NoticeKind.LOGIN_FAILURES,
        NoticeKind.REFRESH_REUSE,
        NoticeKind.PASSWORD_CHANGED,
        NoticeKind.PASSWORD_RESET,
    )
]


class TokenRequestSchema(StrictSchema):
    email = email(required=True)
    password = password(required=True)


class TokenSchema(StrictSchema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})
    refresh_token = fields.String(
        required=True,
        metadata={
            "description": "Exchange it at POST /v1/auth/refresh for new tokens; it works "
            "once (a second use ends the session)."
        },
    )
    refresh_expires_in = fields.Integer(required=True, metadata={"description": "Seconds."})


class RefreshSchema(StrictSchema):
    refresh_token = text(max_length=256, required=True)


class PasswordChangeSchema(StrictSchema):
    current_password = password(required=True)
    new_password = password(
        required=True,
        metadata={"description": "At least 12 characters, not a commonly used password."},
    )


class PasswordResetSchema(StrictSchema):
    reset_code = text(max_length=32, required=True, metadata=_CODE_EXAMPLE)
    new_password = password(
        required=True,
        metadata={"description": "At least 12 characters, not a commonly used password."},
    )


class ResetCodeSchema(StrictSchema):
    user_id = fields.UUID(required=True)
    reset_code = fields.String(
        required=True,
        metadata={**_CODE_EXAMPLE, "description": "Shown once; give it to the account owner."},
    )
    expires_at = fields.AwareDateTime(required=True)


class NoticeSchema(StrictSchema):
    id = fields.Integer(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(NOTICE_KINDS),
    )
    message = fields.String(required=True)
    source = fields.String(
        allow_none=True, required=True, metadata={"description": "The client address."}
    )
    created_at = fields.AwareDateTime(required=True)


class NoticeQuery(PageQuery):
    pass


class ActivateSchema(StrictSchema):
    activation_code = text(max_length=32, required=True, metadata=_CODE_EXAMPLE)
    password = password(required=True)


class MeSchema(StrictSchema):
    id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    patient_id = fields.UUID(allow_none=True, required=True)
