"""The contracts of the patient's conditions, reported products and current findings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.conditions import CHILD_PUGH_CLASSES, MAX_EGFR, Condition, ConditionCode
from service.domain.findings import Answer
from service.web.schemas.common import Flag, Number, StrictSchema, text
from service.web.schemas.interactions import FindingSchema

CODES = [c.value for c in ConditionCode if c is not ConditionCode.PREGNANCY]


class ConditionCreateSchema(StrictSchema):
    code = fields.String(
        required=True,
        validate=validate.OneOf(CODES),
        metadata={"description": "Pregnancy is the patient's `pregnant` field."},
    )
    child_pugh = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(CHILD_PUGH_CLASSES),
        metadata={"description": "Required for hepatic-impairment."},
    )
    egfr = Number(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(min=0, max=MAX_EGFR),
        metadata={"description": "mL/min/1.73 m2; required for renal-impairment."},
    )
    note = text(max_length=500, load_default=None, allow_none=True)

    @ma.post_load
    def make(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        egfr = data["egfr"]
        condition = Condition(
            code=ConditionCode(data["code"]),
            child_pugh=data["child_pugh"],
            egfr=Decimal(str(egfr)) if egfr is not None else None,
        )
        return {"condition": condition, "note": data["note"]}


class ConditionSchema(StrictSchema):
    id = fields.UUID(required=True)
    code = fields.String(required=True)
    child_pugh = fields.String(allow_none=True, required=True)
    egfr = fields.Float(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    recorded_by = fields.UUID(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, required=True)


class EndSchema(StrictSchema):
    reason = text(max_length=500, required=True, metadata={"description": "Why (audited)."})


class ProductCreateSchema(StrictSchema):
    name = text(
        max_length=200,
        required=True,
        metadata={
            "description": "As the patient calls it: an over-the-counter drug, a herbal or "
            "dietary supplement, or alcohol; resolved through the catalog like a prescription.",
            "example": "St John's wort",
        },
    )
    how_often = text(max_length=200, load_default=None, allow_none=True)
    note = text(max_length=500, load_default=None, allow_none=True)
    confirm_unlisted = Flag(
        load_default=False,
        metadata={"description": "Record a product the catalog does not list, by its name."},
    )


class ProductSchema(StrictSchema):
    id = fields.UUID(required=True)
    name = fields.String(required=True, metadata={"description": "As entered."})
    drug_id = fields.String(allow_none=True, required=True)
    drug_name = fields.String(allow_none=True, required=True)
    ingredients = fields.List(fields.String(), required=True)
    how_often = fields.String(allow_none=True, required=True)
    note = fields.String(allow_none=True, required=True)
    reported_by = fields.UUID(required=True)
    reported_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, required=True)
    findings = fields.List(
        fields.Nested(FindingSchema),
        required=True,
        metadata={"description": "On creation: the current findings that involve it."},
    )


class PatientFindingSchema(StrictSchema):
    id = fields.String(required=True, metadata={"description": "The finding's stable id."})
    kind = fields.String(required=True)
    severity = fields.String(required=True)
    finding = fields.Nested(
        FindingSchema,
        required=True,
        attribute="detail",
        metadata={
            "description": "Drugs, rule, mechanism, effect, management and sources; for a "
            "patient, the drugs and the patient summary."
        },
    )
    knowledge_base_version = fields.String(required=True)
    cause = fields.String(
        required=True, metadata={"description": "The change whose re-screening found it."}
    )
    found_at = fields.AwareDateTime(required=True)
    acknowledged_by = fields.UUID(allow_none=True, required=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True, required=True)
    acknowledged_reason = fields.String(
        allow_none=True, required=True, metadata={"description": "Null for patients."}
    )
    acknowledged_as = fields.String(
        allow_none=True,
        required=True,
        validate=validate.OneOf([a.value for a in Answer]),
        metadata={
            "description": "How it was answered: `acknowledged` (read and accepted) or "
            "`overridden` (prescribed against it, with a reason); null while unanswered, "
            "and for answers given before this was recorded."
        },
    )
    care_team_notified_at = fields.AwareDateTime(allow_none=True, required=True)


class AcknowledgeSchema(StrictSchema):
    reason = text(
        max_length=2000,
        required=True,
        metadata={"description": "Why the regimen stands as it is (audited)."},
    )

    @ma.validates("reason")
    def _not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ma.ValidationError("Must not be blank.")
