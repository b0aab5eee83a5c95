from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.prescriptions import (
    DOSE_UNITS,
    MAX_ACKNOWLEDGED,
    MAX_DRUG_LENGTH,
    MAX_EVERY_N_DAYS,
    MAX_FINDING_ID_LENGTH,
    MAX_PRN_DOSES_PER_DAY,
    MAX_TEXT_LENGTH,
    MAX_TIMES_PER_DAY,
    ROUTES,
    WEEKDAYS,
    Dose,
    PrescriptionTerms,
    Schedule,
    ScreeningScope,
    Status,
)
from service.usecases.screening import Resolution, Screening
from service.web.schemas.common import (
    ClockTime,
    Flag,
    Number,
    PageQuery,
    StrictSchema,
    abrupt_stop_reason,
    text,
    whole_number,
)
from service.web.schemas.interactions import FindingSchema


def _decimal(value: float | None) -> Decimal | None:
    # Through str() so that 0.1 stays 0.1 rather than its binary expansion.
    return None if value is None else Decimal(str(value))


class DoseSchema(StrictSchema):
    amount = Number(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False, max=10_000_000),
        metadata={"description": "Amount per administration.", "example": 10},
    )
    unit = fields.String(required=True, validate=validate.OneOf(DOSE_UNITS))

    @ma.post_load
    def make(self, data: dict[str, Any], **_: Any) -> Dose:
        return Dose(amount=_decimal(data["amount"]) or Decimal(0), unit=data["unit"])


class ScheduleSchema(StrictSchema):
    times = fields.List(
        ClockTime(),
        load_default=list,
        validate=validate.Length(max=MAX_TIMES_PER_DAY),
        metadata={"description": "Local times of day in the patient's time zone."},
    )
    every_n_days = whole_number(
        load_default=1, validate=validate.Range(min=1, max=MAX_EVERY_N_DAYS)
    )
    days_of_week = fields.List(
        fields.String(validate=validate.OneOf(WEEKDAYS)),
        allow_none=True,
        load_default=None,
        validate=validate.Length(min=1, max=7),
    )
    as_needed = Flag(load_default=False)
    max_doses_per_day = whole_number(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_PRN_DOSES_PER_DAY),
    )
    min_hours_between = Number(
        allow_none=True,
        load_default=None,
        allow_nan=False,
        validate=validate.Range(min=0, min_inclusive=False, max=72),
    )
    amounts = fields.List(
        Number(
            allow_nan=False, validate=validate.Range(min=0, min_inclusive=False, max=10_000_000)
        ),
        allow_none=True,
        load_default=None,
        validate=validate.Length(min=1, max=MAX_TIMES_PER_DAY),
        metadata={
            "description": "The amount at each time, in the same order, where the times "
            "differ (5 mg at 08:00 and 2.5 mg at 20:00); null means the dose amount at each."
        },
    )

    @ma.post_load
    def make(self, data: dict[str, Any], **_: Any) -> Schedule:
        dow = data["days_of_week"]
        amounts = data["amounts"]
        return Schedule(
            times=tuple(data["times"]),
            every_n_days=data["every_n_days"],
            days_of_week=tuple(dow) if dow is not None else None,
            as_needed=data["as_needed"],
            max_doses_per_day=data["max_doses_per_day"],
            min_hours_between=_decimal(data["min_hours_between"]),
            amounts=tuple(Decimal(str(a)) for a in amounts) if amounts is not None else None,
        )


class OverrideSchema(StrictSchema):
    reason = text(
        max_length=MAX_TEXT_LENGTH,
        required=True,
        metadata={"description": "Why the findings are overridden."},
    )

    @ma.validates("reason")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ma.ValidationError("Must not be blank.")


def override_field() -> fields.Nested:
    return fields.Nested(
        OverrideSchema,
        load_default=None,
        metadata={"description": "Override every contraindicated and major finding with a reason."},
    )


def acknowledge_field() -> fields.List[str]:
    return fields.List(
        text(max_length=MAX_FINDING_ID_LENGTH),
        load_default=list,
        validate=validate.Length(max=MAX_ACKNOWLEDGED),
        metadata={"description": "Ids of the major findings the prescriber has read (audited)."},
    )


def answers(data: dict[str, Any]) -> Screening:
    """The prescriber's answers to the findings, taken out of the loaded body."""
    override = data.pop("override")
    return Screening(
        override_reason=override["reason"].strip() if override else None,
        acknowledge=frozenset(data.pop("acknowledge")),
    )


class PrescriptionCreateSchema(StrictSchema):
    drug = text(max_length=MAX_DRUG_LENGTH, required=True, metadata={"example": "escitalopram"})
    dose = fields.Nested(DoseSchema, required=True)
    route = fields.String(required=True, validate=validate.OneOf(ROUTES))
    schedule = fields.Nested(ScheduleSchema, required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True, load_default=None)
    instructions = text(
        max_length=MAX_TEXT_LENGTH, min_length=0, allow_none=True, load_default=None
    )
    override = override_field()
    acknowledge = acknowledge_field()
    confirm_unlisted = Flag(
        load_default=False,
        metadata={
            "description": "Prescribe a drug the catalog does not list. It is screened as far "
            "as its name allows (allergy list, the same name already taken, any ingredient or "
            "class a word of it names); a partial-screening finding says which checks could not "
            "run, the prescription carries screening: partial, and the confirmation is audited "
            "(prescription.unlisted-confirm). Needs unlisted_reason."
        },
    )
    unlisted_reason = text(
        max_length=MAX_TEXT_LENGTH,
        load_default=None,
        metadata={"description": "Why an unlisted drug is prescribed (with confirm_unlisted)."},
    )

    @ma.post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        screening = replace(
            answers(data),
            confirm_unlisted=data.pop("confirm_unlisted"),
            unlisted_reason=data.pop("unlisted_reason"),
        )
        return {"terms": PrescriptionTerms(**data), "screening": screening}


class PrescriptionUpdateSchema(StrictSchema):
    """Fields to change; `dose` and `schedule` are replaced whole."""

    drug = text(max_length=MAX_DRUG_LENGTH)
    dose = fields.Nested(DoseSchema)
    route = fields.String(validate=validate.OneOf(ROUTES))
    schedule = fields.Nested(ScheduleSchema)
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    instructions = text(max_length=MAX_TEXT_LENGTH, min_length=0, allow_none=True)
    reason = text(max_length=MAX_TEXT_LENGTH, metadata={"description": "Why the change (audited)."})
    abrupt_stop_reason = abrupt_stop_reason()
    override = override_field()
    acknowledge = acknowledge_field()

    @ma.post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["screening"] = answers(data)
        return data


class DoseOutSchema(StrictSchema):
    amount = fields.Float(required=True)
    unit = fields.String(required=True)


class ScheduleOutSchema(StrictSchema):
    times = fields.List(ClockTime(), required=True)
    every_n_days = fields.Integer(required=True)
    days_of_week = fields.List(fields.String(), allow_none=True, required=True)
    as_needed = fields.Boolean(required=True)
    max_doses_per_day = fields.Integer(allow_none=True, required=True)
    min_hours_between = fields.Float(allow_none=True, required=True)
    amounts = fields.List(fields.Float(), allow_none=True, required=True)


class StoredFindingSchema(FindingSchema):
    resolution = fields.String(
        validate=validate.OneOf([r.value for r in Resolution]),
        metadata={
            "description": "none, acknowledged or overridden by the prescriber. Not given "
            "to patients."
        },
    )
    reason = fields.String(
        allow_none=True,
        metadata={"description": "Override reason. Not given to patients."},
    )
    knowledge_base_version = fields.String(
        metadata={"description": "The knowledge base that found it. Not given to patients."}
    )


class PrescriptionSchema(StrictSchema):
    id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    version = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in Status]))
    drug = fields.String(required=True, metadata={"description": "As prescribed."})
    drug_id = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Catalog entry; null for a confirmed unlisted drug."},
    )
    drug_name = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The catalog's generic name of what `drug` resolved to."},
    )
    ingredients = fields.List(fields.String(), required=True)
    screening = fields.String(
        required=True,
        validate=validate.OneOf([scope.value for scope in ScreeningScope]),
        metadata={
            "description": "partial: a confirmed unlisted drug, for which some checks could "
            "not run (its findings say which)."
        },
    )
    unlisted_reason = fields.String(
        allow_none=True, required=True, metadata={"description": "Null for patients."}
    )
    findings = fields.List(
        fields.Nested(StoredFindingSchema),
        required=True,
        metadata={"description": "Interaction findings raised when it was prescribed."},
    )
    dose = fields.Nested(DoseOutSchema, required=True)
    route = fields.String(required=True)
    schedule = fields.Nested(ScheduleOutSchema, required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(allow_none=True, required=True)
    instructions = fields.String(allow_none=True, required=True)
    change = fields.String(
        required=True,
        metadata={"description": "What made this version: create, revise, pause, resume..."},
    )
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Why the prescriber made this version; null for patients."},
    )
    abrupt_stop_reason = fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "Why this version stops or sharply cuts the drug untapered; null "
            "for patients."
        },
    )
    resume_on = fields.Date(
        allow_none=True,
        required=True,
        metadata={"description": "For a pause: the local date it ends."},
    )
    created_by = fields.UUID(required=True, metadata={"description": "Author of this version."})
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    taper_plan_id = fields.UUID(
        allow_none=True,
        required=True,
        metadata={
            "description": "The taper plan in progress (draft, approved, active or "
            "paused), GET /v1/taper-plans/{plan_id}; null when there is none."
        },
    )


class PrescriptionQuery(PageQuery):
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
