"""What a push notification carries: the documented shape of every kind's `data`.

These schemas are not request or response bodies: they document, as components of
the OpenAPI spec, the payloads the dispatcher sends (service.usecases.dispatch_messages),
and a test validates what it actually builds against them. Every channel carries the
same `data`: Web Push and the webhook as JSON, FCM (whose data map holds only strings)
as one JSON string in its `payload` field.

Under the patient's default `discreet` privacy only the ids and the fields marked
"discreet" are present; `detailed` adds the rest. Care-team kinds are always discreet.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from service.domain.messages import DOSE_KINDS, MessageKind
from service.web.schemas.common import StrictSchema

_DETAILED = "Only when the patient chose detailed notifications."
_STORED_KINDS = [k.value for k in MessageKind if k not in DOSE_KINDS]


class MissedDoseSourceSchema(StrictSchema):
    id = fields.String(required=True)
    citation = fields.String(required=True)
    url = fields.String(required=True, allow_none=True)


class MissedDoseAdviceSchema(StrictSchema):
    """The label's missed-dose advice for the drug, in our words, and its source."""

    text = fields.String(required=True)
    source = fields.Nested(MissedDoseSourceSchema, required=True)


class NotifiedAmountSchema(StrictSchema):
    amount = fields.Float(required=True, metadata={"description": "A JSON number: 2, 2.5."})
    unit = fields.String(required=True, metadata={"example": "mg"})


class NotifiedDoseSchema(StrictSchema):
    """One dose of a detailed dose notification."""

    dose_id = fields.UUID(required=True)
    prescription_id = fields.UUID(required=True)
    drug = fields.String(required=True)
    dose = fields.Nested(NotifiedAmountSchema, required=True)
    missed_dose_advice = fields.Nested(
        MissedDoseAdviceSchema,
        allow_none=True,
        metadata={
            "description": "Follow-ups only; null where the catalog has no advice for the "
            "drug: the app then tells the patient to ask their pharmacist."
        },
    )


class DoseNotificationDataSchema(StrictSchema):
    """`data` of dose-reminder, dose-snooze and dose-follow-up: one notification for a
    patient's doses due at the same instant."""

    notification_id = fields.String(
        required=True, metadata={"description": "The idempotency key: drop a repeat."}
    )
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in DOSE_KINDS]))
    scheduled_at = fields.AwareDateTime(required=True, metadata={"description": "UTC."})
    local_time = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d\d:\d\d$"),
        metadata={"description": "The doses' wall-clock time in the patient's zone."},
    )
    dose_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    doses = fields.List(fields.Nested(NotifiedDoseSchema), metadata={"description": _DETAILED})


class StoredNotificationDataSchema(StrictSchema):
    """`data` of the other kinds: taper-step, taper-changed and refill-due (to the
    patient), device-taken (to a device's owner), missed-dose-care-team,
    taper-symptoms-care-team, taper-red-flag-care-team, regimen-finding-care-team and
    refill-due-care-team (to the care team, always discreet). Ids are present when the
    kind has them."""

    notification_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(_STORED_KINDS))
    plan_id = fields.UUID()
    prescription_id = fields.UUID()
    report_id = fields.UUID()
    finding_id = fields.String()
    dose_id = fields.UUID()
    device_id = fields.UUID()
    step_index = fields.Integer(metadata={"description": "taper-step."})
    version = fields.Integer(metadata={"description": "taper-changed: the plan's version."})
    change = fields.String(metadata={"description": "taper-changed: what the clinician did."})
    status = fields.String(metadata={"description": "The plan's or the dose's status."})
    reason = fields.String(
        metadata={
            "description": "Stored with a care-team alert (withdrawal-risk or "
            "missed-in-a-row) for the console; never sent, care-team pushes being discreet."
        }
    )
    severity = fields.String()
    scheduled_at = fields.AwareDateTime()
    daily_dose_mg = fields.Float(metadata={"description": _DETAILED})
    start_date = fields.Date(metadata={"description": _DETAILED})
    runs_out_on = fields.Date(
        metadata={
            "description": "refill-due and refill-due-care-team: the first local date the "
            f"formulation cannot cover in full. {_DETAILED}"
        }
    )
    days_left = fields.Integer(
        metadata={
            "description": "refill-due and refill-due-care-team: days until runs_out_on. "
            + _DETAILED
        }
    )
    drug = fields.String(metadata={"description": f"refill-due: the drug's name. {_DETAILED}"})
    formulation = fields.String(
        metadata={"description": f"refill-due: as a taper plan names it. {_DETAILED}"}
    )
    on_hand = fields.Float(
        metadata={
            "description": f"refill-due: tablets, or mL of a liquid, when queued. {_DETAILED}"
        }
    )
    threshold_days = fields.Integer(
        metadata={
            "description": "refill-due: the threshold crossed, in days (not discreet: "
            f"the withdrawal-risk drugs' own threshold would name their class). {_DETAILED}"
        }
    )


class NotificationSchema(StrictSchema):
    """What a Web Push subscription receives (encrypted), and the webhook's body less
    its routing fields (`recipient_id`, `sent_at`, and `patient_id` when detailed)."""

    idempotency_key = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in MessageKind]))
    title = fields.String(required=True)
    body = fields.String(required=True)
    data = fields.Dict(
        required=True,
        metadata={"description": "DoseNotificationData or StoredNotificationData, by kind."},
    )


SCHEMAS: dict[str, type[StrictSchema]] = {
    "Notification": NotificationSchema,
    "DoseNotificationData": DoseNotificationDataSchema,
    "StoredNotificationData": StoredNotificationDataSchema,
}


def data_schema(kind: str) -> StrictSchema:
    """The schema of `data` for a message of `kind`."""
    if kind in DOSE_KINDS:
        return DoseNotificationDataSchema()
    return StoredNotificationDataSchema()


def register(spec: Any) -> None:
    """Add the notification schemas to the OpenAPI components."""
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema=schema)
