"""Supply as clients record and see it: dispenses, counts, the forecast along the
plan, and a taper's dispensing table (docs/clinical.md, "Supply and refills")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.supply.dispensing import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    MIN_PERIOD_DAYS,
)
from service.domain.supply.stock import MAX_ML
from service.web.schemas.common import Number, StrictSchema, text

_FORMULATION = {
    "description": "As a taper plan's components name it: `tablet 10 mg`, `oral-solution 1 mg/mL`.",
    "example": "tablet 5 mg",
}
_QUANTITY = "Tablets (halves and quarters allowed) or mL of a liquid."


def _quantity(**kwargs: Any) -> Number:
    return Number(
        allow_nan=False, validate=validate.Range(min=0, max=float(MAX_ML)), required=True, **kwargs
    )


class _Amounts(StrictSchema):
    formulation = text(max_length=64, required=True, metadata=_FORMULATION)

    @ma.post_load
    def _exact(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {**data, "quantity": Decimal(str(data["quantity"]))}


class DispenseSchema(_Amounts):
    quantity = _quantity(metadata={"description": _QUANTITY})
    dispensed_on = fields.Date(
        metadata={"description": "The local date it was dispensed; today when absent."}
    )


class CountSchema(_Amounts):
    quantity = _quantity(metadata={"description": "What is left now. " + _QUANTITY})


class SupplyEntrySchema(StrictSchema):
    id = fields.UUID(required=True)
    prescription_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["dispensed", "counted"]))
    formulation = fields.String(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(["tablet", "mL"]))
    quantity = fields.Float(required=True)
    dispensed_on = fields.Date(allow_none=True, required=True)
    effective_at = fields.AwareDateTime(
        required=True,
        metadata={"description": "From when it counts: a dispense from the start of its date."},
    )
    recorded_by = fields.UUID(required=True)
    recorded_at = fields.AwareDateTime(required=True)


class UseChangeSchema(StrictSchema):
    starts_on = fields.Date(required=True)
    daily_use = fields.Float(required=True)


class FormulationSupplySchema(StrictSchema):
    formulation = fields.String(required=True)
    unit = fields.String(required=True)
    tracked = fields.Boolean(
        required=True,
        metadata={
            "description": "Whether any supply of it is recorded; false for one the "
            "plan needs later that nobody has recorded yet."
        },
    )
    on_hand = fields.Float(required=True)
    daily_use = fields.Float(required=True, metadata={"description": "Today's use."})
    runs_out_on = fields.Date(
        allow_none=True,
        required=True,
        metadata={
            "description": "The first local date whose doses it cannot cover; null "
            "when it lasts to the plan's end (or a year, without one)."
        },
    )
    days_left = fields.Integer(allow_none=True, required=True)
    plan_ends_on = fields.Date(allow_none=True, required=True)
    runs_out_before_plan_ends = fields.Boolean(required=True)
    shortfall = fields.Float(
        required=True, metadata={"description": "What is missing to the plan's end."}
    )
    refill_due = fields.Boolean(required=True)
    use_changes = fields.List(
        fields.Nested(UseChangeSchema),
        required=True,
        metadata={"description": "The coming dates its daily use changes, as the plan steps."},
    )


class SupplyForecastSchema(StrictSchema):
    prescription_id = fields.UUID(required=True)
    drug = fields.String(required=True)
    today = fields.Date(required=True)
    basis = fields.String(
        required=True, validate=validate.OneOf(["taper", "schedule", "as-needed"])
    )
    taper_plan_status = fields.String(allow_none=True, required=True)
    refill_threshold_days = fields.Integer(required=True)
    use_unknown = fields.Boolean(
        required=True,
        metadata={
            "description": "True when the dose cannot be made from the formulations it may "
            "be supplied in: taken doses draw nothing and no run-out date can be told."
        },
    )
    formulations = fields.List(fields.Nested(FormulationSupplySchema), required=True)


class DispensingQuery(StrictSchema):
    # A query string is text: fields.Integer reads "28" (and refuses "28.5"), where
    # whole_number's strict integer, for JSON bodies, would refuse every value.
    period_days = fields.Integer(
        load_default=DEFAULT_PERIOD_DAYS,
        validate=validate.Range(min=MIN_PERIOD_DAYS, max=MAX_PERIOD_DAYS),
        metadata={"description": "The length of each period, from the plan's start."},
    )


class BottleSchema(StrictSchema):
    size_ml = fields.Float(required=True)
    count = fields.Integer(required=True)


class DispensingLineSchema(StrictSchema):
    formulation = fields.String(required=True)
    unit = fields.String(required=True)
    needed = fields.Float(required=True)
    carried_in = fields.Float(required=True)
    dispense = fields.Float(required=True)
    bottles = fields.List(fields.Nested(BottleSchema), required=True)
    left_over = fields.Float(required=True)


class DispensingPeriodSchema(StrictSchema):
    index = fields.Integer(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    lines = fields.List(fields.Nested(DispensingLineSchema), required=True)


class DispensingSchema(StrictSchema):
    plan_id = fields.UUID(required=True)
    prescription_id = fields.UUID(required=True)
    drug = fields.String(required=True)
    status = fields.String(required=True)
    plan_version = fields.Integer(required=True)
    period_days = fields.Integer(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    periods = fields.List(fields.Nested(DispensingPeriodSchema), required=True)
    totals = fields.List(fields.Nested(DispensingLineSchema), required=True)
