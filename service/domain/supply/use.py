"""What a dose or a day uses of each formulation, in the formulation's own unit:
tablets (a half tablet is 0.5) or mL of a liquid.

A formulation is named by its label, as a taper plan's components name it
(`tablet 10 mg`, `oral-solution 1 mg/mL`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from service.domain.taper.formulations import (
    LIQUID_FORMS,
    SOLID_FORMS,
    Liquid,
    Tablet,
    TaperFormulation,
)
from service.domain.taper.plan import Administration, Component, Step, TaperPlan

TABLET = "tablet"
ML = "mL"

Use = Mapping[str, Decimal]
"""Formulation label -> amount (tablets or mL); only formulations with a use."""


def component_amount(c: Component) -> Decimal:
    """What one component takes of its formulation: units of a tablet or mL."""
    if c.units is not None:
        return c.units
    return c.ml if c.ml is not None else Decimal(0)


def added(uses: Iterable[Use]) -> dict[str, Decimal]:
    """The sum of several uses, formulation by formulation."""
    total: dict[str, Decimal] = {}
    for use in uses:
        for label, amount in use.items():
            total[label] = total.get(label, Decimal(0)) + amount
    return {k: v for k, v in total.items() if v > 0}


def administration_use(a: Administration) -> dict[str, Decimal]:
    """What one administration of a plan step takes of each formulation."""
    return added({c.formulation: component_amount(c)} for c in a.components)


def step_use(step: Step) -> dict[str, Decimal]:
    """What one day of a plan step takes of each formulation."""
    return added(administration_use(a) for a in step.administrations)


def administration_at(step: Step, slot: dt.time) -> Administration | None:
    """The step's administration at local time `slot`, if it has one."""
    for a in step.administrations:
        if dt.time.fromisoformat(a.time) == slot:
            return a
    return None


_LABEL = re.compile(r"^([a-z-]+) (\d+(?:\.\d+)?) (mg|mg/mL)$")


def parse_label(label: str) -> TaperFormulation | None:
    """The formulation a label names (`tablet 10 mg`, `oral-solution 1 mg/mL`), or
    None. How a tablet may be split is not in its label: 1 (whole) is assumed, which
    counting supply does not need."""
    found = _LABEL.match(label)
    if found is None:
        return None
    form, amount, unit = found.groups()
    if form in SOLID_FORMS and unit == "mg":
        return Tablet(strength_mg=Decimal(amount), form=form)
    if form in LIQUID_FORMS and unit == "mg/mL":
        return Liquid(mg_per_ml=Decimal(amount), form=form)
    return None


def plan_labels(plan: TaperPlan) -> list[str]:
    """The formulations a plan's steps use, in the order they first appear."""
    seen: dict[str, None] = {}
    for step in plan.steps:
        for a in step.administrations:
            for c in a.components:
                seen.setdefault(c.formulation, None)
    return list(seen)
