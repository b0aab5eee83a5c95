"""Taper plans as clients send and see them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from service.domain.taper.formulations import DEFAULT_MIN_VOLUME_ML, DEFAULT_RESOLUTION_ML
from service.domain.taper.plan import Flag, NoteCode
from service.domain.taper.status import PlanStatus
from service.web.schemas.common import (
    ClockTime,
    Number,
    ReasonSchema,
    StrictSchema,
    text,
    whole_number,
)
from service.web.schemas.interactions import CitationSchema

ALGORITHMS = ("linear", "percent", "hyperbolic", "manual")
# What each algorithm needs, besides its kind.
_NEEDS = {"linear": "step_mg", "percent": "percent", "hyperbolic": "occupancy_step_pct"}


def decimal(value: float) -> Decimal:
    # Through str() so that 0.1 stays 0.1 rather than its binary expansion.
    return Decimal(str(value))


def _decimals(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named numbers as Decimal: the planner never sees a float."""
    return {k: decimal(v) if k in names and v is not None else v for k, v in data.items()}


def _amount(**kwargs: Any) -> Number:
    return Number(allow_nan=False, validate=validate.Range(min=0, max=10_000), **kwargs)


class ManualStepSchema(StrictSchema):
    daily_dose_mg = _amount(required=True)
    days = whole_number(required=True, validate=validate.Range(min=1, max=365))

    @ma.post_load
    def _exact(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _decimals(data, "daily_dose_mg")


class AlgorithmSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(ALGORITHMS))
    step_mg = _amount(metadata={"description": "linear: mg off the daily dose per step."})
    percent = Number(
        allow_nan=False,
        validate=validate.Range(min=0, max=100),
        metadata={"description": "percent: percent of the current dose off per step."},
    )
    occupancy_step_pct = Number(
        allow_nan=False,
        validate=validate.Range(min=0, max=100),
        metadata={
            "description": "hyperbolic: percentage points of receptor occupancy off per "
            "step (the drug's Emax and ED50 come from the catalog)."
        },
    )
    steps = fields.List(
        fields.Nested(ManualStepSchema),
        validate=validate.Length(min=1, max=500),
        metadata={"description": "manual: every step, from the start dose to the target."},
    )

    @ma.validates_schema
    def _needs(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("kind")
        needed = _NEEDS.get(kind or "") or ("steps" if kind == "manual" else None)
        if needed and data.get(needed) is None:
            raise ma.ValidationError(f"Required for the {kind} algorithm.", needed)

    @ma.post_load
    def _exact(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _decimals(data, "step_mg", "percent", "occupancy_step_pct")


class FormulationInSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["tablet", "liquid"]))
    strength_mg = _amount(metadata={"description": "tablet: mg per tablet."})
    divisible_by = fields.Integer(
        load_default=1,
        validate=validate.OneOf([1, 2, 4]),
        metadata={"description": "tablet: 1 whole, 2 halves, 4 quarters."},
    )
    mg_per_ml = _amount(metadata={"description": "liquid: concentration."})
    release = fields.String(
        load_default="immediate",
        validate=validate.OneOf(["immediate", "extended"]),
        metadata={
            "description": "tablet: its release form. Extended-release tablets are never "
            "split, and a plan mixes release forms only when they are listed here."
        },
    )
    resolution_ml = _amount(
        load_default=DEFAULT_RESOLUTION_ML, metadata={"description": "liquid: syringe step."}
    )
    min_volume_ml = _amount(
        load_default=DEFAULT_MIN_VOLUME_ML,
        metadata={"description": "liquid: least volume (default 0.2 mL, oral-syringe accuracy)."},
    )

    @ma.validates_schema
    def _needs(self, data: dict[str, Any], **_: Any) -> None:
        needed = "strength_mg" if data.get("kind") == "tablet" else "mg_per_ml"
        if data.get(needed) is None:
            raise ma.ValidationError(f"Required for a {data.get('kind')}.", needed)
        if data.get("release") == "extended" and data.get("divisible_by", 1) != 1:
            raise ma.ValidationError(
                "Extended-release tablets are swallowed whole: use 1.", "divisible_by"
            )

    @ma.post_load
    def _exact(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _decimals(data, "strength_mg", "mg_per_ml", "resolution_ml", "min_volume_ml")


class TaperSettingsSchema(StrictSchema):
    drug = text(max_length=200, required=True, metadata={"example": "diazepam"})
    start_dose_mg = _amount(required=True, metadata={"description": "Current daily dose."})
    target_dose_mg = _amount(load_default=0, metadata={"description": "0: stop."})
    algorithm = fields.Nested(AlgorithmSchema, required=True)
    max_cut_pct = Number(
        allow_nan=False,
        load_default=25,
        validate=validate.Range(min=0, max=100),
        metadata={
            "description": "Cap on the cuts in any 14 days, percent of the dose 14 days "
            "before (ASAM 2025: at most 25% every 2 weeks); shorter steps cut less."
        },
    )
    floor_dose_mg = _amount(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "The final jump to the target is expected, not flagged, from at or "
            "below it. Default: the drug's floor in the catalog, with its source (else 0)."
        },
    )
    interval_days = whole_number(load_default=14, validate=validate.Range(min=1, max=365))
    slow_below_mg = _amount(load_default=None, allow_none=True)
    slow_interval_days = whole_number(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=365)
    )
    start_date = fields.Date(required=True)
    formulations = fields.List(
        fields.Nested(FormulationInSchema),
        validate=validate.Length(min=1, max=10),
        metadata={"description": "Default: the catalog's oral formulations of the drug."},
    )
    times = fields.List(
        ClockTime(),
        validate=validate.Length(min=1, max=6),
        metadata={"description": "Administration times (default 08:00)."},
    )
    larger_dose_time = ClockTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "When a daily dose cannot be shared equally, the time that takes "
            "the larger amount: one of `times` (default the first)."
        },
    )

    @ma.post_load
    def _exact(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return _decimals(
            data, "start_dose_mg", "target_dose_mg", "max_cut_pct", "floor_dose_mg", "slow_below_mg"
        )


class ComponentSchema(StrictSchema):
    formulation = fields.String(required=True)
    units = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "Tablets (0.5 = half, 0.25 = quarter); null for a liquid."},
    )
    ml = fields.Float(
        allow_none=True, required=True, metadata={"description": "Volume; null for a tablet."}
    )
    dose_mg = fields.Float(required=True)


class AdministrationSchema(StrictSchema):
    time = fields.String(required=True)
    dose_mg = fields.Float(required=True)
    components = fields.List(fields.Nested(ComponentSchema), required=True)


class StepSchema(StrictSchema):
    index = fields.Integer(required=True)
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True, metadata={"description": "Inclusive."})
    days = fields.Integer(required=True)
    daily_dose_mg = fields.Float(required=True)
    cut_pct = fields.Float(required=True, metadata={"description": "Cut from the previous step."})
    flags = fields.List(
        fields.String(validate=validate.OneOf([f.value for f in Flag])),
        required=True,
    )
    administrations = fields.List(fields.Nested(AdministrationSchema), required=True)


class NoteSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.OneOf([c.value for c in NoteCode]))
    message = fields.String(required=True)
    needs_approval = fields.Boolean(
        required=True,
        metadata={"description": "Approved once with the plan (`acknowledge` on approval)."},
    )
    steps = fields.List(fields.Integer(), required=True)


class TaperPreviewSchema(StrictSchema):
    drug = fields.String(required=True, metadata={"description": "The catalog ingredient."})
    steps = fields.List(fields.Nested(StepSchema), required=True)
    total_days = fields.Integer(required=True)
    warnings = fields.List(
        fields.String(), required=True, metadata={"description": "The notes' messages."}
    )
    notes = fields.List(fields.Nested(NoteSchema), required=True)
    floor_dose_mg = fields.Float(
        required=True, metadata={"description": "The floor used (given, or the catalog's)."}
    )
    sources = fields.List(fields.Nested(CitationSchema), required=True)


class TaperCreateSchema(TaperSettingsSchema):
    drug = text(
        max_length=200,
        load_default=None,
        metadata={"description": "Default: the prescription's drug (it must be that drug)."},
    )
    symptom_threshold = whole_number(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=1000),
        metadata={
            "description": "Withdrawal self-report total at or above which a hold is "
            "proposed and the care team told (default: the scale's)."
        },
    )


class ApproveSchema(StrictSchema):
    approve_flagged = fields.List(
        fields.Integer(validate=validate.Range(min=0, max=500)),
        load_default=list,
        validate=validate.Length(max=500),
        metadata={"description": "Indexes of every step flagged exceeds_cap_needs_approval."},
    )
    acknowledge = fields.List(
        fields.String(validate=validate.OneOf([c.value for c in NoteCode])),
        load_default=list,
        validate=validate.Length(max=len(NoteCode)),
        metadata={
            "description": "Codes of every note with needs_approval that is approved once "
            "with the plan: grid_limited, short_steps, long_plan."
        },
    )
    reason = text(max_length=2000, load_default=None)


class ExtendSchema(StrictSchema):
    days = whole_number(required=True, validate=validate.Range(min=1, max=90))
    reason = text(max_length=2000, load_default=None)


class StepBackSchema(ReasonSchema):
    hold_days = whole_number(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=90),
        metadata={"description": "Days on the previous dose (default: the plan's interval)."},
    )


class PlanVersionSchema(StrictSchema):
    version = fields.Integer(required=True)
    change = fields.String(required=True)
    status = fields.String(required=True)
    reason = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The clinician's reason for the change; null for patients."},
    )
    approved_steps = fields.List(fields.Integer(), required=True)
    total_days = fields.Integer(required=True)
    created_by = fields.UUID(required=True)
    created_at = fields.AwareDateTime(required=True)


class StepRecordSchema(StrictSchema):
    step_index = fields.Integer(required=True)
    plan_version = fields.Integer(required=True, metadata={"description": "Plan version run."})
    prescription_version = fields.Integer(
        required=True, metadata={"description": "The prescription version with the step's dose."}
    )
    daily_dose_mg = fields.Float(required=True)
    start_date = fields.Date(required=True)
    due_at = fields.AwareDateTime(
        required=True, metadata={"description": "Start of the step's date, patient's zone."}
    )
    recorded_at = fields.AwareDateTime(
        required=True, metadata={"description": "When the scheduler started it."}
    )


class AdviceSchema(StrictSchema):
    text = fields.String(required=True, metadata={"description": "For the patient."})
    urgent = fields.Boolean(
        required=True,
        metadata={"description": "A red flag was reported: show this before anything else."},
    )
    sources = fields.List(fields.Nested(CitationSchema), required=True)


class SymptomReportSchema(StrictSchema):
    id = fields.UUID(required=True)
    step_index = fields.Integer(required=True)
    scale = fields.String(required=True)
    items = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    total = fields.Integer(required=True)
    threshold = fields.Integer(required=True)
    hold_proposed = fields.Boolean(required=True)
    note = fields.String(allow_none=True, required=True)
    reported_by = fields.UUID(required=True)
    reported_at = fields.AwareDateTime(required=True)
    red_flags = fields.List(
        fields.String(),
        required=True,
        metadata={
            "description": "Red-flag items answered yes, in scale order: the care team was "
            "alerted at once (kind taper-red-flag-care-team), whatever the total."
        },
    )
    unrated = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Items left unrated; the total counts the rated items only."},
    )
    advice = fields.Nested(
        AdviceSchema,
        metadata={"description": "Safety-net advice with its sources (on a new report)."},
    )


class TaperPlanSchema(StrictSchema):
    id = fields.UUID(required=True)
    prescription_id = fields.UUID(required=True)
    patient_id = fields.UUID(required=True)
    drug = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in PlanStatus]))
    version = fields.Integer(required=True)
    current_step = fields.Integer(required=True, metadata={"description": "Index of today's step."})
    approved_steps = fields.List(fields.Integer(), required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True)
    total_days = fields.Integer(required=True)
    warnings = fields.List(fields.String(), required=True)
    notes = fields.List(
        fields.Nested(NoteSchema),
        required=True,
        metadata={"description": "What to read before approving; see the preview."},
    )
    settings = fields.Dict(required=True)
    versions = fields.List(fields.Nested(PlanVersionSchema), required=True)
    step_records = fields.List(
        fields.Nested(StepRecordSchema),
        required=True,
        metadata={"description": "Steps the scheduler has started, one record each."},
    )
    next_step_at = fields.AwareDateTime(
        allow_none=True,
        required=True,
        metadata={"description": "When the next step starts; null unless approved or active."},
    )
    symptom_reports = fields.List(
        fields.Nested(SymptomReportSchema),
        required=True,
        metadata={"description": "The latest withdrawal self-reports, newest first."},
    )
    hold_proposed = fields.Boolean(
        required=True,
        metadata={
            "description": "The latest report reached the plan's threshold: a clinician "
            "should consider pausing. Nothing changes by itself."
        },
    )


class SymptomReportInSchema(StrictSchema):
    items = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=whole_number(allow_none=True, validate=validate.Range(min=0, max=10)),
        required=True,
        validate=validate.Length(max=40),
        metadata={
            "description": "Items of the plan's scale, each rated 0 to its max (red flags: "
            "0 no, 1 yes). An item left out or null is unrated; at least one must be rated."
        },
    )
    total = whole_number(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=1000),
        metadata={
            "description": "Optional; when given it must equal the sum of the rated symptom "
            "items (red flags are not counted)."
        },
    )
    note = text(max_length=2000, min_length=0, load_default=None, allow_none=True)


class ScaleItemSchema(StrictSchema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    max = fields.Integer(required=True, metadata={"description": "The highest rating."})
    red_flag = fields.Boolean(
        required=True,
        metadata={"description": "Answered 0 (no) or 1 (yes); a yes alerts the care team."},
    )


class ScaleSchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    based_on = fields.String(required=True)
    item_max = fields.Integer(required=True)
    max_total = fields.Integer(required=True)
    items = fields.List(fields.Nested(ScaleItemSchema), required=True)


class SymptomReportsSchema(StrictSchema):
    scale = fields.Nested(ScaleSchema, required=True)
    threshold = fields.Integer(
        required=True, metadata={"description": "At or above it, a hold is proposed."}
    )
    advice = fields.Nested(
        AdviceSchema,
        required=True,
        metadata={"description": "What to do if things get worse, to show before a report."},
    )
    reports = fields.List(fields.Nested(SymptomReportSchema), required=True)


class ChartLinkSchema(StrictSchema):
    url = fields.String(
        required=True,
        metadata={"description": "GET it with no Authorization header (an image source)."},
    )
    expires_at = fields.AwareDateTime(
        required=True, metadata={"description": "After this the link is refused (403)."}
    )


class ChartLinkQuery(StrictSchema):
    """A signed chart link's parameters: all three, as POST .../chart-links gave them,
    or none (then a bearer token is needed)."""

    expires = fields.Integer(
        validate=validate.Range(min=0, max=2**40),
        metadata={"description": "Signed link: its expiry, Unix seconds."},
    )
    link = fields.String(
        validate=validate.Length(max=64), metadata={"description": "Signed link: its id."}
    )
    sig = fields.String(
        validate=validate.Length(max=128), metadata={"description": "Signed link: its signature."}
    )
