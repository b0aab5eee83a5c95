"""Doses, devices and adherence as clients see them."""

from __future__ import annotations

from marshmallow import fields, validate

from service.domain.doses import LISTED
from service.usecases.devices import PLATFORMS
from service.web.schemas.common import Instant, StrictSchema, text


class DoseAmountSchema(StrictSchema):
    amount = fields.Float(required=True)
    unit = fields.String(required=True)


class DoseEventSchema(StrictSchema):
    id = fields.UUID(required=True)
    prescription_id = fields.UUID(required=True)
    drug = fields.String(required=True)
    dose = fields.Nested(DoseAmountSchema, required=True)
    scheduled_at = fields.AwareDateTime(
        required=True, metadata={"description": "UTC instant, ISO 8601."}
    )
    local_time = fields.AwareDateTime(
        required=True, metadata={"description": "The same instant with the patient's offset."}
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf([status.value for status in LISTED]),
    )
    prn = fields.Boolean(required=True, metadata={"description": "An as-needed dose."})
    taken_at = fields.AwareDateTime(allow_none=True, required=True)
    skip_reason = fields.String(allow_none=True, required=True)
    snoozed_until = fields.AwareDateTime(allow_none=True, required=True)
    logged_at = fields.AwareDateTime(allow_none=True, required=True)


class WindowQuery(StrictSchema):
    from_ = Instant(
        required=True,
        data_key="from",
        metadata={"description": "Start (inclusive), ISO 8601 with an offset."},
    )
    to = Instant(
        required=True, metadata={"description": "End (exclusive); at most 31 days after from."}
    )


class AdherenceQuery(WindowQuery):
    to = Instant(
        required=True, metadata={"description": "End (exclusive); at most 366 days after from."}
    )


class TodaySchema(StrictSchema):
    date = fields.Date(required=True, metadata={"description": "The patient's local date."})
    doses = fields.List(fields.Nested(DoseEventSchema), required=True)


class TakenSchema(StrictSchema):
    taken_at = Instant(
        load_default=None,
        metadata={"description": "When it was taken (default now); late logging is allowed."},
    )


class SkippedSchema(StrictSchema):
    reason = text(max_length=500, load_default=None, metadata={"description": "Why (optional)."})


class SnoozeSchema(StrictSchema):
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(min=5, max=240))


class TooSoonSchema(StrictSchema):
    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    next_allowed_at = fields.AwareDateTime(
        metadata={"description": "When the next dose is allowed (present when it is too soon)."}
    )


class AdherenceRowSchema(StrictSchema):
    prescription_id = fields.UUID(required=True)
    drug = fields.String(required=True)
    on_time = fields.Integer(required=True)
    late = fields.Integer(required=True)
    skipped = fields.Integer(required=True)
    missed = fields.Integer(required=True)
    pending = fields.Integer(required=True)
    percentage = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "(on time + late) / (on time + late + skipped + missed)."},
    )


class AdherenceSchema(StrictSchema):
    from_ = fields.AwareDateTime(required=True, data_key="from")
    to = fields.AwareDateTime(required=True)
    prescriptions = fields.List(fields.Nested(AdherenceRowSchema), required=True)


class DeviceKeysSchema(StrictSchema):
    p256dh = fields.String(validate=validate.Length(max=100))
    auth = fields.String(validate=validate.Length(max=100))


class DeviceCreateSchema(StrictSchema):
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    endpoint = text(max_length=2048, load_default=None)
    token = text(max_length=4096, load_default=None)
    keys = fields.Nested(DeviceKeysSchema, load_default=dict)
    label = text(max_length=100, load_default=None)


class DeviceSchema(StrictSchema):
    id = fields.UUID(required=True)
    platform = fields.String(required=True)
    endpoint = fields.String(allow_none=True, required=True)
    label = fields.String(allow_none=True, required=True)
    created_at = fields.AwareDateTime(required=True)
