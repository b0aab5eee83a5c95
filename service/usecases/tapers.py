"""Taper plans: previews for clinicians (no patient needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.domain.accounts import Role
from service.domain.catalog import Resolved
from service.domain.interactions import KnowledgeBase
from service.domain.taper import (
    Algorithm,
    Hyperbolic,
    Linear,
    Liquid,
    Manual,
    ManualStep,
    Percent,
    Step,
    Tablet,
    TaperFormulation,
    TaperSettings,
    default_formulations,
    plan_taper,
)
from service.usecases.context import Caller
from service.usecases.errors import Forbidden, ValidationFailed, domain_rules
from service.usecases.screening import describe

# Cited with every plan: caps and intervals; then what each algorithm rests on.
GUIDANCE = "asam-2025-benzodiazepine-tapering"
ALGORITHM_SOURCES = {"hyperbolic": ("horowitz-taylor-2019",)}


@dataclass(frozen=True, kw_only=True)
class TaperPreview:
    drug: str
    steps: tuple[Step, ...]
    total_days: int
    warnings: tuple[str, ...]
    sources: list[dict[str, Any]]


def _algorithm(raw: Mapping[str, Any]) -> Algorithm:
    kind = raw["kind"]
    if kind == "linear":
        return Linear(step_mg=raw["step_mg"])
    if kind == "percent":
        return Percent(percent=raw["percent"])
    if kind == "hyperbolic":
        return Hyperbolic(occupancy_step_pct=raw["occupancy_step_pct"])
    return Manual(
        steps=tuple(
            ManualStep(daily_dose_mg=s["daily_dose_mg"], days=s["days"]) for s in raw["steps"]
        )
    )


def _formulations(raw: Sequence[Mapping[str, Any]]) -> tuple[TaperFormulation, ...]:
    out: list[TaperFormulation] = []
    for f in raw:
        if f["kind"] == "tablet":
            out.append(Tablet(strength_mg=f["strength_mg"], divisible_by=f["divisible_by"]))
        else:
            out.append(
                Liquid(
                    mg_per_ml=f["mg_per_ml"],
                    resolution_ml=f["resolution_ml"],
                    min_volume_ml=f["min_volume_ml"],
                )
            )
    return tuple(out)


def _ingredient(kb: KnowledgeBase, text: str) -> str:
    """The one catalog ingredient a taper is about."""
    found = kb.catalog.resolve(text)
    if not isinstance(found, Resolved) or not found.in_catalog:
        raise ValidationFailed(
            "Taper plans are for drugs in the catalog.",
            errors={"drug": [f"Not in the catalog: {text!r}."]},
        )
    if len(found.ingredients) != 1:
        raise ValidationFailed(
            "A taper plan lowers one ingredient.",
            errors={"drug": [f"{text} combines {', '.join(found.ingredients)}; taper one."]},
        )
    return found.ingredients[0]


def taper_settings(kb: KnowledgeBase, body: Mapping[str, Any]) -> tuple[str, TaperSettings]:
    """Domain settings from a request: the catalog supplies the drug's formulations
    (unless given) and, for the hyperbolic algorithm, its occupancy model."""
    drug = kb.catalog.drugs[_ingredient(kb, body["drug"])]
    formulations = (
        _formulations(body["formulations"])
        if body.get("formulations")
        else default_formulations(drug.formulations)
    )
    algorithm = _algorithm(body["algorithm"])
    if isinstance(algorithm, Hyperbolic) and drug.occupancy is None:
        raise ValidationFailed(
            "The hyperbolic algorithm needs the drug's receptor-occupancy model.",
            errors={
                "algorithm.kind": [
                    f"No occupancy model for {drug.name} in the catalog; use percent or manual."
                ]
            },
        )
    settings = TaperSettings(
        start_dose_mg=body["start_dose_mg"],
        target_dose_mg=body.get("target_dose_mg", Decimal(0)),
        algorithm=algorithm,
        formulations=formulations,
        start_date=body["start_date"],
        max_cut_pct=body["max_cut_pct"],
        floor_dose_mg=body["floor_dose_mg"],
        interval_days=body["interval_days"],
        slow_below_mg=body.get("slow_below_mg"),
        slow_interval_days=body.get("slow_interval_days"),
        times=tuple(t.strftime("%H:%M") for t in body["times"])
        if body.get("times")
        else ("08:00",),
        occupancy=drug.occupancy,
    )
    return drug.id, settings


def _sources(kb: KnowledgeBase, drug_id: str, settings: TaperSettings) -> list[dict[str, Any]]:
    ids = [GUIDANCE, *ALGORITHM_SOURCES.get(settings.algorithm.kind, ())]
    occupancy = kb.catalog.drugs[drug_id].occupancy
    if isinstance(settings.algorithm, Hyperbolic) and occupancy is not None:
        ids.extend(occupancy.sources)
    return [describe(kb, s) for s in dict.fromkeys(ids)]


def preview_taper(*, caller: Caller, kb: KnowledgeBase, body: Mapping[str, Any]) -> TaperPreview:
    """A plan for review: no patient and nothing stored."""
    if caller.require().role is not Role.CLINICIAN:
        raise Forbidden("Taper plans are for clinicians.")
    drug_id, settings = taper_settings(kb, body)
    with domain_rules("The taper settings are not valid."):
        plan = plan_taper(settings)
    return TaperPreview(
        drug=drug_id,
        steps=plan.steps,
        total_days=plan.total_days,
        warnings=plan.warnings,
        sources=_sources(kb, drug_id, settings),
    )
