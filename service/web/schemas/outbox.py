"""The outbox: deliveries for operators, what a message was about for the care team."""

from __future__ import annotations

from marshmallow import fields, validate

from service.usecases.outbox_view import STATUSES
from service.web.schemas.common import PageQuery, StrictSchema

REF = {
    "description": "The message's pseudonymous reference: names one message and nothing "
    "about it; every message has its own.",
    "example": "3f1c9a0e6b7d4e28a1c05f9b2d6e7a41",
}
ERROR_CLASS = {
    "description": "How the last attempt failed, as `channel:cause` (`webhook:http-503`, "
    "`webpush:timeout`) or a cause alone; null if no attempt failed.",
}


class OutboxQuery(PageQuery):
    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={"description": "Only messages in this state; `failed` are the dead letters."},
    )


class OperationalMessageSchema(StrictSchema):
    ref = fields.String(required=True, metadata=REF)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = fields.Integer(required=True)
    last_error_class = fields.String(allow_none=True, required=True, metadata=ERROR_CLASS)
    queued_at = fields.AwareDateTime(required=True)
    next_attempt_at = fields.AwareDateTime(
        allow_none=True,
        required=True,
        metadata={
            "description": "When a message already tried may be tried again (or its claim "
            "lapses); null before the first attempt, when it would be the due time, and "
            "once it will not be tried again."
        },
    )
    updated_at = fields.AwareDateTime(required=True)
    sent_at = fields.AwareDateTime(allow_none=True, required=True)


class OutboxSummarySchema(StrictSchema):
    as_of = fields.AwareDateTime(required=True)
    notifier = fields.String(
        required=True, metadata={"description": "The channel messages are sent through."}
    )
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    due = fields.Integer(
        required=True, metadata={"description": "Queued messages whose time has come."}
    )
    oldest_due_seconds = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "How long the longest-waiting due message has waited."},
    )
    lapsed_claims = fields.Integer(
        required=True,
        metadata={"description": "Claimed messages whose dispatcher's lease ran out."},
    )
    retrying_by_error_class = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True
    )
    dead_letters = fields.Integer(
        required=True,
        metadata={"description": "Messages given up after the retry limit or refused."},
    )
    dead_letters_by_error_class = fields.Dict(
        keys=fields.String(), values=fields.Integer(), required=True
    )


class MessageDetailsSchema(StrictSchema):
    ref = fields.String(required=True, metadata=REF)
    kind = fields.String(required=True)
    patient_id = fields.UUID(required=True)
    recipient_id = fields.UUID(required=True)
    dose_event_id = fields.UUID(allow_none=True, required=True)
    due_at = fields.AwareDateTime(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True, required=True)
    last_error_class = fields.String(allow_none=True, required=True, metadata=ERROR_CLASS)
    last_error = fields.String(allow_none=True, required=True)
    queued_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    sent_at = fields.AwareDateTime(allow_none=True, required=True)
    payload = fields.Dict(
        required=True,
        metadata={
            "description": "What a message stored at queueing carries (title, "
            "body, data); dose reminders are written when sent and store none."
        },
    )
