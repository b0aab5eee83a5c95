"""The formulations a patient has for a taper, and the defaults derived from the catalog.

A tablet may be split into `divisible_by` equal parts (1, 2 or 4). A liquid is
measured in `resolution_ml` steps and never in less than `min_volume_ml`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.domain.catalog import Formulation
from service.domain.errors import Problems
from service.domain.taper.arith import text

# Solid oral forms a taper can use. Only plain tablets are ever split, and only when
# the catalog says they are scored: extended-release tablets and capsules lose
# their release profile when broken (labels: "swallow whole"), capsules cannot be
# divided, and orally disintegrating tablets are unscored and crumble.
SOLID_FORMS = ("tablet", "tablet-odt", "tablet-er", "capsule", "capsule-er")
SPLITTABLE_FORMS = ("tablet",)
LIQUID_FORMS = ("oral-solution", "oral-suspension", "oral-concentrate")
EXTENDED_FORMS = ("tablet-er", "capsule-er")
# The immediate-release solids a default plan uses, in order of preference: the
# first group the drug has is used alone.
IMMEDIATE_SOLIDS = (("tablet", "capsule"), ("tablet-odt",))
DIVISORS = (1, 2, 4)

# A 0.1 mL syringe step, and never less than 0.2 mL: 1 mL oral syringes measure
# 0.1 mL or less outside 10% of the intended volume (Arenas-Lopez et al. 2017,
# docs/clinical.md, "Taper planner"). The clinician sets the real step and minimum
# for the syringe the patient uses.
DEFAULT_RESOLUTION_ML = Decimal("0.1")
DEFAULT_MIN_VOLUME_ML = Decimal("0.2")

# Plausibility ceilings that catch typing slips and keep the arithmetic bounded.
MAX_STRENGTH_MG = Decimal(10_000)
MAX_MG_PER_ML = Decimal(1_000)
MAX_VOLUME_ML = Decimal(100)
MAX_DECIMAL_PLACES = 4


@dataclass(frozen=True, kw_only=True)
class Tablet:
    """A tablet or capsule strength; `divisible_by` 2 allows halves, 4 quarters."""

    strength_mg: Decimal
    divisible_by: int = 1
    form: str = "tablet"

    @property
    def label(self) -> str:
        return f"{self.form} {text(self.strength_mg)} mg"


@dataclass(frozen=True, kw_only=True)
class Liquid:
    """An oral liquid measured with a syringe in `resolution_ml` steps."""

    mg_per_ml: Decimal
    resolution_ml: Decimal = DEFAULT_RESOLUTION_ML
    min_volume_ml: Decimal = DEFAULT_MIN_VOLUME_ML
    form: str = "oral-solution"

    @property
    def label(self) -> str:
        return f"{self.form} {text(self.mg_per_ml)} mg/mL"


TaperFormulation = Tablet | Liquid


def default_formulations(formulations: Iterable[Formulation]) -> tuple[TaperFormulation, ...]:
    """What a drug's catalog formulations offer a taper by default: one release form.

    Extended-release products are not interchangeable mg for mg with immediate-release
    ones (docs/clinical.md, "Taper planner"), so a default plan keeps to the
    immediate-release tablets and capsules (orally disintegrating tablets only when
    there are neither) and the most dilute immediate-release liquid. A drug with no
    immediate-release oral form gets its extended-release solids. Tablets are halved
    only when a plain tablet is scored;
    other forms (injections, patches, inhalers...) cannot make an oral daily dose.
    """
    tablets, liquids = canonical(offered(formulations))
    immediate = [t for t in tablets if t.form not in EXTENDED_FORMS]
    for forms in IMMEDIATE_SOLIDS:
        chosen = tuple(t for t in immediate if t.form in forms)
        if chosen:
            return (*chosen, *liquids[:1])
    if liquids:
        return liquids[:1]
    return tuple(t for t in tablets if t.form in EXTENDED_FORMS)


def offered(formulations: Iterable[Formulation]) -> tuple[TaperFormulation, ...]:
    """Every tablet, capsule and oral liquid strength the catalog lists for a drug, as
    a taper would name it (a scored plain tablet halves), in canonical order."""
    found: dict[str, TaperFormulation] = {}
    for f in formulations:
        for made in _from_catalog(f):
            kept = found.get(made.label)
            if kept is None or _divisor(made) > _divisor(kept):
                found[made.label] = made
    tablets, liquids = canonical(tuple(found.values()))
    return (*tablets, *liquids)


def _from_catalog(f: Formulation) -> list[TaperFormulation]:
    if f.form in SOLID_FORMS and f.unit == "mg":
        divisor = 2 if f.scored and f.form in SPLITTABLE_FORMS else 1
        return [Tablet(strength_mg=s, divisible_by=divisor, form=f.form) for s in f.strengths]
    if f.form in LIQUID_FORMS and f.unit == "mg/mL":
        return [Liquid(mg_per_ml=s, form=f.form) for s in f.strengths]
    return []


def _divisor(f: TaperFormulation) -> int:
    return f.divisible_by if isinstance(f, Tablet) else 1


def canonical(
    formulations: Sequence[TaperFormulation],
) -> tuple[tuple[Tablet, ...], tuple[Liquid, ...]]:
    """Tablets by strength, largest first; liquids by concentration, most dilute first.

    The order settles ties when two breakdowns are otherwise equal: larger tablets
    first (fewer to count), and the most dilute liquid (the larger volume is measured
    more accurately).
    """
    tablets = sorted(
        (f for f in formulations if isinstance(f, Tablet)),
        key=lambda t: (-t.strength_mg, t.form, t.divisible_by),
    )
    liquids = sorted(
        (f for f in formulations if isinstance(f, Liquid)),
        key=lambda q: (q.mg_per_ml, q.form, q.resolution_ml, q.min_volume_ml),
    )
    return tuple(tablets), tuple(liquids)


def check_formulations(formulations: Sequence[TaperFormulation], problems: Problems) -> bool:
    """Add a problem for every bad formulation field; True when all are usable."""
    found: list[tuple[str, str]] = []
    if not formulations:
        found.append(("formulations", "Give at least one tablet or liquid."))
    for i, f in enumerate(formulations):
        found.extend(_formulation_problems(f, f"formulations[{i}]"))
    if not found:
        labels = [f.label for f in formulations]
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            found.append(("formulations", f"{label} is listed twice."))
    for path, message in found:
        problems.add(path, message)
    return not found


def _formulation_problems(f: TaperFormulation, path: str) -> list[tuple[str, str]]:
    if isinstance(f, Tablet):
        found = _amount_problems(f.strength_mg, MAX_STRENGTH_MG, f"{path}.strength_mg")
        if isinstance(f.divisible_by, bool) or f.divisible_by not in DIVISORS:
            found.append((f"{path}.divisible_by", "Must be 1, 2 or 4."))
        return found
    if isinstance(f, Liquid):
        return [
            *_amount_problems(f.mg_per_ml, MAX_MG_PER_ML, f"{path}.mg_per_ml"),
            *_amount_problems(f.resolution_ml, MAX_VOLUME_ML, f"{path}.resolution_ml"),
            *_amount_problems(f.min_volume_ml, MAX_VOLUME_ML, f"{path}.min_volume_ml"),
        ]
    return [(path, "Must be a tablet or a liquid.")]


def _amount_problems(value: Decimal, ceiling: Decimal, path: str) -> list[tuple[str, str]]:
    """A positive, finite amount with a bounded number of decimal places."""
    message = amount_problem(value, ceiling=ceiling, allow_zero=False)
    return [(path, message)] if message else []


def amount_problem(value: Decimal, *, ceiling: Decimal, allow_zero: bool) -> str | None:
    """What is wrong with an amount, or None: finite, in range, few decimal places.

    The bound on decimal places also bounds the dose grid the planner works on.
    """
    if not isinstance(value, Decimal) or not value.is_finite():
        return "Must be a decimal number."
    if value < 0 or (value == 0 and not allow_zero):
        return "Must be 0 or more." if allow_zero else "Must be greater than 0."
    if value > ceiling:
        return f"Must be at most {ceiling}."
    if -value.as_tuple().exponent > MAX_DECIMAL_PLACES:  # type: ignore[operator]
        return f"At most {MAX_DECIMAL_PLACES} decimal places."
    return None
