"""Doses, devices and adherence as clients see them."""

from __future__ import annotations

from marshmallow import fields, validate

from service.domain.doses import LISTED
from service.usecases.devices import PLATFORMS
from service.web.schemas.common import Instant, InstantOrDate, StrictSchema, text


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
    instructions = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "The prescription's current instructions, as the prescriber wrote "
            "them; null when there are none.",
            "example": "Take with food.",
        },
    )


_FROM = (
    "Start (inclusive): an instant with an offset (2026-12-05T08:00:00Z), or a date "
    "(2026-12-05), the start of that day where the patient lives."
)
_TO = (
    "End (exclusive): an instant with an offset, or a date, the end of that day where the "
    "patient lives (from=to=2026-12-05 is that whole day); at most %d days after from."
)


class WindowQuery(StrictSchema):
    from_ = InstantOrDate(
        required=True, data_key="from", metadata={"description": _FROM, "example": "2026-12-05"}
    )
    to = InstantOrDate(required=True, metadata={"description": _TO % 31, "example": "2026-12-05"})


class AdherenceQuery(WindowQuery):
    to = InstantOrDate(required=True, metadata={"description": _TO % 366, "example": "2026-12-31"})


class AdherenceCsvQuery(AdherenceQuery):
    detail = fields.String(
        load_default="prescriptions",
        validate=validate.OneOf(["prescriptions", "doses"]),
        metadata={
            "description": "`prescriptions` (default): a row per prescription and an "
            "`overall` row; `doses`: a row per scheduled dose."
        },
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


class AdherenceFiguresSchema(StrictSchema):
    on_time = fields.Integer(
        required=True, metadata={"description": "Taken within the on-time window, either side."}
    )
    early = fields.Integer(
        required=True, metadata={"description": "Taken more than the window before its time."}
    )
    late = fields.Integer(
        required=True, metadata={"description": "Taken more than the window after its time."}
    )
    skipped = fields.Integer(required=True)
    missed = fields.Integer(required=True)
    pending = fields.Integer(
        required=True, metadata={"description": "Not logged yet and not yet missed; not due."}
    )
    taken = fields.Integer(required=True, metadata={"description": "on_time + early + late."})
    due = fields.Integer(required=True, metadata={"description": "taken + skipped + missed."})
    percentage = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "Adherence: taken / due, in percent (null when nothing is due)."},
    )
    on_time_percentage = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "on_time / due, in percent (null when nothing is due)."},
    )


class AdherenceRowSchema(AdherenceFiguresSchema):
    prescription_id = fields.UUID(required=True)
    drug = fields.String(required=True)


class AdherencePatientSchema(StrictSchema):
    id = fields.UUID(required=True)
    name = fields.String(required=True)


class AdherencePeriodSchema(StrictSchema):
    from_ = fields.AwareDateTime(
        required=True, data_key="from", metadata={"description": "With the patient's offset."}
    )
    to = fields.AwareDateTime(required=True, metadata={"description": "Exclusive."})
    timezone = fields.String(required=True, metadata={"description": "The patient's IANA zone."})


class AdherenceSchema(StrictSchema):
    patient = fields.Nested(AdherencePatientSchema, required=True)
    from_ = fields.AwareDateTime(required=True, data_key="from")
    to = fields.AwareDateTime(required=True)
    period = fields.Nested(AdherencePeriodSchema, required=True)
    on_time_window_minutes = fields.Integer(
        required=True,
        metadata={"description": "A dose taken within this many minutes of its time is on time."},
    )
    overall = fields.Nested(AdherenceFiguresSchema, required=True)
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
