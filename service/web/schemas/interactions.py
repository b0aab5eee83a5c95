"""The interaction-check and drug-catalog contracts."""

from __future__ import annotations

from marshmallow import fields, validate

from service.domain.interactions import Kind
from service.domain.severity import Severity
from service.web.schemas.common import StrictSchema, text

MAX_CHECK_DRUGS = 50


class CheckRequestSchema(StrictSchema):
    drugs = fields.List(
        text(max_length=200),
        required=True,
        validate=validate.Length(min=1, max=MAX_CHECK_DRUGS),
        metadata={
            "description": (
                "Drug names as typed: generic, brand or synonym; "
                "strength and form text is tolerated."
            ),
            "example": ["Lexapro", "Valium"],
        },
    )
    patient_id = fields.UUID(
        load_default=None,
        metadata={
            "description": (
                "Also check against this patient's current prescriptions, allergies and pregnancy."
            )
        },
    )


class CitationSchema(StrictSchema):
    id = fields.String(required=True)
    citation = fields.String(required=True)
    url = fields.String(allow_none=True, required=True)


class FindingDrugSchema(StrictSchema):
    input = fields.String(required=True, metadata={"description": "As entered (or as prescribed)."})
    resolved = fields.String(
        required=True, metadata={"description": "Catalog name it resolved to."}
    )
    ingredients = fields.List(fields.String(), required=True)
    prescription_id = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The patient's prescription this drug comes from, if any."},
    )
    reported_product_id = fields.String(
        allow_none=True,
        load_default=None,
        metadata={"description": "The product the patient reports taking, if it is one."},
    )
    taper = fields.String(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "When that prescription is being tapered: its dose now and where "
            "the plan goes (the check counts the drug until the taper has stopped it)."
        },
    )


class TaperPreviewHintSchema(StrictSchema):
    endpoint = fields.String(required=True, metadata={"example": "/v1/taper-plans/preview"})
    settings = fields.Dict(
        required=True,
        metadata={"description": "A body for the preview: the current dose, target 0, 10 %."},
    )


class PatientSummarySchema(StrictSchema):
    """A finding in plain words, in the patient's language (docs/clinical.md, "What
    patients are told")."""

    topic = fields.String(
        required=True,
        metadata={"description": "What the summary is about.", "example": "breathing"},
    )
    locale = fields.String(
        required=True, metadata={"description": "The language of the texts.", "example": "en"}
    )
    means = fields.String(required=True, metadata={"description": "What it means for me."})
    watch_for = fields.String(required=True, metadata={"description": "What to watch for."})
    when_to_call = fields.String(
        required=True,
        metadata={"description": "When to call the clinician, and when it is an emergency."},
    )
    sources = fields.List(
        fields.Nested(CitationSchema),
        required=True,
        metadata={"description": "The public, patient-facing pages the summary follows."},
    )


# Fields a patient is not given (they get `patient_summary` instead).
_CLINICAL = " Not given to patients."


class FindingSchema(StrictSchema):
    id = fields.String(
        required=True, metadata={"description": "Stable id; acknowledge major findings by it."}
    )
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in Kind]))
    severity = fields.String(required=True, validate=validate.OneOf([s.value for s in Severity]))
    drugs = fields.List(fields.Nested(FindingDrugSchema), required=True)
    rule = fields.String(
        metadata={"description": "The highest-severity matching rule." + _CLINICAL}
    )
    rules = fields.List(
        fields.String(), metadata={"description": "Every matching rule, merged." + _CLINICAL}
    )
    classes = fields.List(
        fields.String(), metadata={"description": "Classes that matched." + _CLINICAL}
    )
    mechanism = fields.String(metadata={"description": "Clinical text." + _CLINICAL})
    effect = fields.String(metadata={"description": "Clinical text." + _CLINICAL})
    management = fields.String(metadata={"description": "Clinical text." + _CLINICAL})
    sources = fields.List(
        fields.Nested(CitationSchema),
        metadata={"description": "The literature behind the rule." + _CLINICAL},
    )
    patient_summary = fields.Nested(
        PatientSummarySchema,
        metadata={
            "description": "What the patient is told, in the patient's language: all a "
            "patient gets besides the kind, severity and drugs. On every read of findings "
            "and on checks; not on 409 refusals (those go to the prescriber)."
        },
    )
    allergy = fields.String(allow_none=True, required=True)
    condition = fields.String(allow_none=True, required=True)
    taper_preview = fields.Nested(
        TaperPreviewHintSchema,
        load_default=None,
        metadata={"description": "abrupt-stop findings: where and how to plan a taper."},
    )


class ResolvedSchema(StrictSchema):
    input = fields.String(required=True)
    drug_id = fields.String(
        required=True, metadata={"description": "Catalog entry (or imported-only drug key)."}
    )
    name = fields.String(required=True)
    ingredients = fields.List(fields.String(), required=True)
    in_catalog = fields.Boolean(required=True)


class ErrorBodySchema(StrictSchema):
    """The one error shape, which the schemas below extend."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class SuggestionSchema(StrictSchema):
    drug_id = fields.String(required=True, metadata={"example": "diazepam"})
    name = fields.String(required=True, metadata={"example": "diazepam"})
    matched_on = fields.String(
        required=True,
        metadata={"description": "The catalog name (generic, brand or synonym) it is close to."},
    )


class UnresolvedSchema(StrictSchema):
    input = fields.String(required=True)
    suggestions = fields.List(
        fields.Nested(SuggestionSchema), required=True, metadata={"description": "Closest first."}
    )


class UnresolvedDrugSchema(ErrorBodySchema):
    """422 for a drug name the catalog does not resolve."""

    suggestions = fields.List(
        fields.Nested(SuggestionSchema),
        metadata={"description": "For a drug the catalog does not resolve: closest first."},
    )


class CheckResponseSchema(StrictSchema):
    findings = fields.List(fields.Nested(FindingSchema), required=True)
    resolved = fields.List(fields.Nested(ResolvedSchema), required=True)
    unresolved = fields.List(fields.Nested(UnresolvedSchema), required=True)
    knowledge_base_version = fields.String(required=True)


class InteractionConflictSchema(ErrorBodySchema):
    findings = fields.List(fields.Nested(FindingSchema), required=True)
    knowledge_base_version = fields.String(required=True)


class ChangeConflictSchema(ErrorBodySchema):
    """409 for a change: a state that does not allow it, or findings it must answer."""

    findings = fields.List(
        fields.Nested(FindingSchema),
        metadata={"description": "abrupt-stop or dose-range findings to answer, when so."},
    )
    knowledge_base_version = fields.String()


class DrugQuery(StrictSchema):
    q = text(
        max_length=100,
        required=True,
        metadata={
            "description": "A generic, brand or synonym name, or part of one: entries whose "
            "names start with it come first, then those containing it, then those it may be a "
            "misspelling of (diazepan lists diazepam first)."
        },
    )
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=50))


class FormulationSchema(StrictSchema):
    form = fields.String(required=True)
    strengths = fields.List(fields.Float(), required=True)
    unit = fields.String(required=True)
    scored = fields.Boolean(required=True)


class ClassRefSchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class OccupancyAnchorSchema(StrictSchema):
    dose_mg = fields.Float(required=True, metadata={"description": "Daily dose."})
    occupancy_pct = fields.Float(required=True)
    source = fields.String(required=True, metadata={"description": "Id of one of `sources`."})


class OccupancySchema(StrictSchema):
    """occupancy(d) = emax_pct * d / (ed50_mg + d), fitted through published anchors."""

    target = fields.String(required=True, metadata={"description": "Receptor or transporter."})
    emax_pct = fields.Float(required=True)
    ed50_mg = fields.Float(required=True)
    anchors = fields.List(fields.Nested(OccupancyAnchorSchema), required=True)
    derivation = fields.String(required=True)
    sources = fields.List(fields.Nested(CitationSchema), required=True)


class DrugSummarySchema(StrictSchema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["ingredient", "combination"]))
    brands = fields.List(fields.String(), required=True)
    ingredients = fields.List(fields.String(), required=True)
    withdrawal_risk = fields.Boolean(required=True)


class DrugSchema(DrugSummarySchema):
    atc = fields.String(allow_none=True, required=True)
    synonyms = fields.List(fields.String(), required=True)
    classes = fields.List(fields.Nested(ClassRefSchema), required=True)
    formulations = fields.List(fields.Nested(FormulationSchema), required=True)
    withdrawal_reason = fields.String(allow_none=True, required=True)
    occupancy = fields.Nested(OccupancySchema, allow_none=True, required=True)
    knowledge_base_version = fields.String(required=True)
