"""Dose limits from the labels, and which routes and units fit a drug's formulations.

Pure data and arithmetic: the knowledge base supplies the limits (each with its
label section), the dose-range check in `dose_checks` compares a prescription
with them (docs/clinical.md, "Dose range").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# Units of mass, in milligrams.
MASS_IN_MG: dict[str, Decimal] = {"mg": Decimal(1), "mcg": Decimal("0.001"), "g": Decimal(1000)}
# International units are counted as units.
_SAME_UNIT = {"IU": "units"}


@dataclass(frozen=True, kw_only=True)
class Amount:
    value: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{self.value.normalize():f} {self.unit}"

    def expressed_in(self, unit: str) -> Decimal | None:
        """This amount in `unit`, or None when the two units do not measure the same thing."""
        if self.unit in MASS_IN_MG and unit in MASS_IN_MG:
            return self.value * MASS_IN_MG[self.unit] / MASS_IN_MG[unit]
        if _SAME_UNIT.get(self.unit, self.unit) == _SAME_UNIT.get(unit, unit):
            return self.value
        return None


@dataclass(frozen=True, kw_only=True)
class ImpairedLimit:
    """A lower maximum in hepatic (by Child-Pugh class) or renal (below an eGFR) impairment."""

    condition: str
    child_pugh: frozenset[str]
    egfr_below: Decimal | None
    max_daily: Amount
    label_section: str
    sources: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DoseLimit:
    """The usual adult maximum of one ingredient by one route, as its label gives it."""

    drug: str
    route: str
    max_daily: Amount
    max_single: Amount | None
    label_section: str
    sources: tuple[str, ...]
    impaired: tuple[ImpairedLimit, ...] = ()


# Routes each formulation form is given by. An injection may be given by any of
# the parenteral routes; a label that allows only one is the prescriber's to read.
FORM_ROUTES: dict[str, tuple[str, ...]] = {
    "tablet": ("oral",),
    "tablet-er": ("oral",),
    "tablet-odt": ("oral", "sublingual"),
    "capsule": ("oral",),
    "capsule-er": ("oral",),
    "oral-solution": ("oral",),
    "oral-suspension": ("oral",),
    "oral-concentrate": ("oral",),
    "injection": ("intravenous", "intramuscular", "subcutaneous"),
    "patch": ("transdermal",),
    "inhaler": ("inhalation",),
    "nebulizer-solution": ("inhalation",),
    "nasal-spray": ("nasal",),
    "cream": ("topical",),
    "ointment": ("topical",),
    "gel": ("topical",),
    "eye-drops": ("ophthalmic", "otic"),
    "suppository": ("rectal", "vaginal"),
    "powder": ("oral", "inhalation", "topical"),
    "film": ("oral", "sublingual", "buccal"),
    "implant": ("subcutaneous",),
    "ring": ("vaginal",),
}

_MASS = tuple(MASS_IN_MG)
_LIQUID_FORMS = frozenset(
    ["oral-solution", "oral-suspension", "oral-concentrate", "injection", "nebulizer-solution"]
)
# What one counts a form in, when a dose is written as a count rather than an amount.
_COUNT_UNIT: dict[str, str] = {
    "tablet": "tablet",
    "tablet-er": "tablet",
    "tablet-odt": "tablet",
    "capsule": "capsule",
    "capsule-er": "capsule",
    "inhaler": "puff",
    "nasal-spray": "puff",
    "eye-drops": "drop",
    "patch": "patch",
    "cream": "application",
    "ointment": "application",
    "gel": "application",
    "powder": "application",
    "film": "application",
    "suppository": "application",
    "ring": "application",
    "implant": "application",
}
# Dose units that can express a strength given in each formulation unit.
_STRENGTH_UNITS: dict[str, tuple[str, ...]] = {
    "mg": _MASS,
    "mcg": _MASS,
    "g": _MASS,
    "mg/mL": (*_MASS, "mL"),
    "mcg/mL": (*_MASS, "mL"),
    "units": ("units", "IU"),
    "units/mL": ("units", "IU", "mL"),
    "mcg/h": _MASS,
    "mg/24h": _MASS,
    "mcg/actuation": _MASS,
    "mg/actuation": _MASS,
    "%": (*_MASS, "mL"),
    "mEq": ("mEq", "mmol", *_MASS),
    "mmol": ("mEq", "mmol", *_MASS),
}


@dataclass(frozen=True, kw_only=True)
class FormulationFacts:
    form: str
    unit: str
    strengths: tuple[Decimal, ...] = ()


def routes_of(formulations: Iterable[FormulationFacts]) -> tuple[str, ...]:
    """The routes by which some formulation of the drug is given, in a stable order."""
    return tuple(dict.fromkeys(r for f in formulations for r in FORM_ROUTES.get(f.form, ())))


def units_of(formulations: Iterable[FormulationFacts], route: str) -> tuple[str, ...]:
    """The dose units that fit the formulations given by `route`."""
    units: list[str] = []
    for f in formulations:
        if route not in FORM_ROUTES.get(f.form, ()):
            continue
        units.extend(_STRENGTH_UNITS.get(f.unit, ()))
        if f.form in _COUNT_UNIT:
            units.append(_COUNT_UNIT[f.form])
        if f.form in _LIQUID_FORMS:
            units.append("mL")
    return tuple(dict.fromkeys(units))


_PER_ML = {"mg/mL": "mg", "mcg/mL": "mcg"}


def smallest_unit_dose(
    formulations: Iterable[FormulationFacts], route: str, unit: str
) -> Amount | None:
    """The least one tablet, capsule or mL (`unit`) of the drug by `route` can hold,
    in mass: a dose counted in such units holds at least that much per unit."""
    found: list[Amount] = []
    for f in formulations:
        if route not in FORM_ROUTES.get(f.form, ()) or not f.strengths:
            continue
        least = min(f.strengths)
        if unit == "mL" and f.unit in _PER_ML:
            found.append(Amount(value=least, unit=_PER_ML[f.unit]))
        elif _COUNT_UNIT.get(f.form) == unit and f.unit in MASS_IN_MG:
            found.append(Amount(value=least, unit=f.unit))
    return min(found, key=lambda a: a.expressed_in("mg") or Decimal(0), default=None)
