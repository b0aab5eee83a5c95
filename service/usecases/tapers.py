"""Taper plans: previews for clinicians (no patient needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from service.domain.accounts import Role
from service.domain.catalog import Drug, Resolved
from service.domain.interactions import KnowledgeBase
from service.domain.taper import (
    Algorithm,
    Hyperbolic,
    Linear,
    Liquid,
    Manual,
    ManualStep,
    Note,
    NoteCode,
    Percent,
    Step,
    Tablet,
    TaperFormulation,
    TaperSettings,
    default_formulations,
    plan_taper,
)
from service.domain.taper import TaperPlan as Plan
from service.usecases.context import Caller
from service.usecases.errors import Forbidden, ValidationFailed, domain_rules
from service.usecases.screening import describe

# Cited with every plan: caps and intervals; then what each algorithm rests on.
GUIDANCE = "asam-2025-benzodiazepine-tapering"
ALGORITHM_SOURCES = {"hyperbolic": ("horowitz-taylor-2019",)}
SYRINGE_SOURCE = "arenas-lopez-2017-enteral-syringes"
# Notes a finer formulation would answer.
EXPLAINED = (NoteCode.HYPERBOLIC_TAIL, NoteCode.GRID_LIMITED)


@dataclass(frozen=True, kw_only=True)
class TaperPreview:
    drug: str
    steps: tuple[Step, ...]
    total_days: int
    warnings: tuple[str, ...]
    notes: tuple[Note, ...]
    floor_dose_mg: Decimal
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
            form = "tablet-er" if f.get("release") == "extended" else "tablet"
            out.append(
                Tablet(strength_mg=f["strength_mg"], divisible_by=f["divisible_by"], form=form)
            )
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
                    f"No occupancy model for {drug.name} in the catalog; use `percent` "
                    "(a share of the current dose, which also makes smaller cuts as the dose "
                    "falls) or manual."
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
        floor_dose_mg=floor_for(drug, body.get("floor_dose_mg")),
        interval_days=body["interval_days"],
        slow_below_mg=body.get("slow_below_mg"),
        slow_interval_days=body.get("slow_interval_days"),
        times=tuple(t.strftime("%H:%M") for t in body["times"])
        if body.get("times")
        else ("08:00",),
        larger_dose_time=body["larger_dose_time"].strftime("%H:%M")
        if body.get("larger_dose_time")
        else None,
        occupancy=drug.occupancy,
        sourced_floor_mg=drug.taper_floor_mg or Decimal(0),
    )
    return drug.id, settings


def floor_for(drug: Drug, given: Decimal | None) -> Decimal:
    """The floor asked for, else the drug's catalog floor, else 0."""
    if given is not None:
        return given
    return drug.taper_floor_mg if drug.taper_floor_mg is not None else Decimal(0)


def sources_for(kb: KnowledgeBase, drug_id: str, settings: TaperSettings) -> list[dict[str, Any]]:
    """What the plan rests on: the cap, the algorithm, the occupancy model, the floor
    taken from the catalog and, with a liquid, the syringe's accuracy."""
    drug = kb.catalog.drugs[drug_id]
    ids = [GUIDANCE, *ALGORITHM_SOURCES.get(settings.algorithm.kind, ())]
    if isinstance(settings.algorithm, Hyperbolic) and drug.occupancy is not None:
        ids.extend(drug.occupancy.sources)
    if drug.taper_floor_source and settings.floor_dose_mg == drug.taper_floor_mg:
        ids.append(drug.taper_floor_source)
    if any(isinstance(f, Liquid) for f in settings.formulations):
        ids.append(SYRINGE_SOURCE)
    return [describe(kb, s) for s in dict.fromkeys(ids)]


def explained(kb: KnowledgeBase, drug_id: str, settings: TaperSettings, plan: Plan) -> Plan:
    """The plan, its notes naming the catalog formulation that would make the smaller
    steps the formulations given cannot (a liquid not in the plan)."""
    uses_liquid = any(isinstance(f, Liquid) for f in settings.formulations)
    catalog_liquids = [
        f
        for f in default_formulations(kb.catalog.drugs[drug_id].formulations)
        if isinstance(f, Liquid)
    ]
    if uses_liquid:
        hint = "a finer syringe step or a more dilute liquid would make smaller final steps"
    elif catalog_liquids:
        hint = f"the {catalog_liquids[0].label} would make smaller final steps"
    else:
        return plan
    notes = tuple(
        replace(n, message=f"{n.message}; {hint}") if n.code in EXPLAINED else n for n in plan.notes
    )
    return replace(plan, notes=notes)


def preview_taper(*, caller: Caller, kb: KnowledgeBase, body: Mapping[str, Any]) -> TaperPreview:
    """A plan for review: no patient and nothing stored."""
    if caller.require().role is not Role.CLINICIAN:
        raise Forbidden("Taper plans are for clinicians.")
    drug_id, settings = taper_settings(kb, body)
    with domain_rules("The taper settings are not valid."):
        plan = explained(kb, drug_id, settings, plan_taper(settings))
    return TaperPreview(
        drug=drug_id,
        steps=plan.steps,
        total_days=plan.total_days,
        warnings=plan.warnings,
        notes=plan.notes,
        floor_dose_mg=settings.floor_dose_mg,
        sources=sources_for(kb, drug_id, settings),
    )
