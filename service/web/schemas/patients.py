from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from service.domain.accounts import EnrolmentStatus, NotificationPrivacy
from service.i18n import SUPPORTED_LOCALES
from service.web.schemas.common import Flag, PageQuery, StrictSchema, email, text


def _allergies(**kwargs: Any) -> fields.List[Any]:
    return fields.List(
        text(max_length=100),
        validate=validate.Length(max=100),
        metadata={"description": "Allergens (ingredients or classes)."},
        **kwargs,
    )


class PatientCreateSchema(StrictSchema):
    name = text(max_length=200, required=True)
    email = email(required=True)
    timezone = text(
        max_length=64, required=True, metadata={"description": "IANA name, e.g. Europe/London"}
    )
    date_of_birth = fields.Date(required=True)
    allergies = _allergies(load_default=list)
    pregnant = Flag(load_default=False)


_LOCALE = "The language of the texts the patient reads (notifications, summaries, advice)."
_PRIVACY = (
    "What a push notification shows on the lock screen: `discreet` (the default) names "
    "no drug or dose and carries only ids, the app fetches the details signed in; "
    "`detailed` names the drugs and doses."
)


class PatientUpdateSchema(StrictSchema):
    """Patients may change `name`, `timezone`, `locale` and `notification_privacy`;
    the care team changes everything."""

    name = text(max_length=200)
    email = email()
    timezone = text(max_length=64)
    date_of_birth = fields.Date()
    allergies = _allergies()
    pregnant = Flag()
    locale = fields.String(
        validate=validate.OneOf(SUPPORTED_LOCALES), metadata={"description": _LOCALE}
    )
    notification_privacy = fields.String(
        validate=validate.OneOf([p.value for p in NotificationPrivacy]),
        metadata={"description": _PRIVACY},
    )


_HIDDEN = "null for administrators, who do not see clinical details"


class PatientSchema(StrictSchema):
    id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    timezone = fields.String(required=True)
    date_of_birth = fields.Date(required=True, allow_none=True, metadata={"description": _HIDDEN})
    allergies = fields.List(
        fields.String(), required=True, allow_none=True, metadata={"description": _HIDDEN}
    )
    pregnant = fields.Boolean(required=True, allow_none=True, metadata={"description": _HIDDEN})
    activated = fields.Boolean(required=True)
    care_team = fields.List(fields.UUID(), required=True)
    created_at = fields.AwareDateTime(required=True)
    locale = fields.String(required=True, metadata={"description": _LOCALE})
    notification_privacy = fields.String(required=True, metadata={"description": _PRIVACY})


class EnrolmentSchema(StrictSchema):
    """A clinician's enrolment of someone by e-mail. Pending enrolments read alike
    whether the e-mail was new or already had an account; the patient's id appears
    once the person has activated or accepted."""

    id = fields.UUID(required=True)
    email = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf([s.value for s in EnrolmentStatus])
    )
    expires_at = fields.AwareDateTime(required=True)
    created_at = fields.AwareDateTime(required=True)
    patient_id = fields.UUID(
        allow_none=True,
        required=True,
        metadata={"description": "The patient, once accepted; null until then."},
    )


class EnrolmentCreatedSchema(EnrolmentSchema):
    activation_code = fields.String(
        required=True,
        metadata={
            "description": (
                "One-time code to hand to the person, shown only once: a new account "
                "activates with it (POST /v1/auth/activate), an existing one accepts it "
                "signed in (POST /v1/me/care-invitations)."
            )
        },
    )


class InvitationAcceptSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=64))


class CareTeamAddSchema(StrictSchema):
    clinician_id = fields.UUID(required=True)


class CareTeamEntrySchema(StrictSchema):
    clinician_id = fields.UUID(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    added_at = fields.AwareDateTime(required=True)


class PatientQuery(PageQuery):
    q = text(
        max_length=254,
        min_length=0,
        load_default=None,
        metadata={
            "description": "Only patients whose name or e-mail contains this text (any case)."
        },
    )
