"""The taper planner's pure domain: formulations, achievable doses and plan generation.

`plan_taper(settings)` turns a start dose, a target, an algorithm (linear, percent,
hyperbolic or manual) and the formulations a patient has into dated steps, each
with what to take at each time of day, flagged where a clinician must approve.
docs/clinical.md, "Taper planner" lists the invariants it holds.
"""

from service.domain.taper.formulations import (
    DEFAULT_MIN_VOLUME_ML,
    DEFAULT_RESOLUTION_ML,
    Liquid,
    Tablet,
    TaperFormulation,
    default_formulations,
)
from service.domain.taper.plan import (
    Administration,
    Component,
    Flag,
    Note,
    NoteCode,
    Step,
    TaperPlan,
)
from service.domain.taper.planner import LENGTHEN_FACTOR, plan_taper
from service.domain.taper.settings import (
    DEFAULT_INTERVAL_DAYS,
    DEFAULT_MAX_CUT_PCT,
    DEFAULT_TIMES,
    MAX_ADMINISTRATIONS,
    MAX_STEPS,
    Algorithm,
    Hyperbolic,
    Linear,
    Manual,
    ManualStep,
    Percent,
    TaperSettings,
)

__all__ = [
    "DEFAULT_INTERVAL_DAYS",
    "DEFAULT_MAX_CUT_PCT",
    "DEFAULT_MIN_VOLUME_ML",
    "DEFAULT_RESOLUTION_ML",
    "DEFAULT_TIMES",
    "LENGTHEN_FACTOR",
    "MAX_ADMINISTRATIONS",
    "MAX_STEPS",
    "Administration",
    "Algorithm",
    "Component",
    "Flag",
    "Hyperbolic",
    "Linear",
    "Liquid",
    "Manual",
    "ManualStep",
    "Note",
    "NoteCode",
    "Percent",
    "Step",
    "Tablet",
    "TaperFormulation",
    "TaperPlan",
    "TaperSettings",
    "default_formulations",
    "plan_taper",
]
