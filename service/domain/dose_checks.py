"""Checks of a prescription's dose and route against the catalog (docs/clinical.md,
"Dose range"): the route and unit must fit the drug's formulations (else the
prescription is refused as invalid), and a daily dose above the label's usual
adult maximum is a finding, major above it and contraindicated above twice it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal

from service.domain.conditions import Condition, within
from service.domain.dosing import (
    MASS_IN_MG,
    Amount,
    DoseLimit,
    FormulationFacts,
    ImpairedLimit,
    routes_of,
    smallest_unit_dose,
    units_of,
)
from service.domain.errors import Problems
from service.domain.interactions import Finding, Item, Kind, KnowledgeBase, single_finding
from service.domain.prescriptions import Dose, Schedule
from service.domain.severity import Severity

# Above this multiple of the maximum a dose is treated as contraindicated (an
# override with a reason is needed), per docs/clinical.md "Dose range".
CONTRAINDICATED_MULTIPLE = Decimal(2)


def _facts(kb: KnowledgeBase, ingredient: str) -> tuple[FormulationFacts, ...]:
    drug = kb.catalog.drugs.get(ingredient)
    if drug is None:
        return ()
    return tuple(
        FormulationFacts(form=f.form, unit=f.unit, strengths=f.strengths) for f in drug.formulations
    )


def check_route_and_unit(
    kb: KnowledgeBase, *, ingredients: Sequence[str], route: str, unit: str, problems: Problems
) -> None:
    """A route no formulation of the drug is given by, or a unit none of them can be
    measured in, is a problem naming what the catalog has. Drugs the catalog lists
    without formulations (and combinations) are not judged."""
    if len(ingredients) != 1:
        return
    facts = _facts(kb, ingredients[0])
    routes = routes_of(facts)
    if not routes:
        return
    name = kb.drug_name(ingredients[0])
    if route not in routes:
        problems.add(
            "route", f"{name} is not given by the {route} route; its routes: {', '.join(routes)}."
        )
        return
    units = units_of(facts, route)
    if unit not in units:
        problems.add(
            "dose.unit",
            f"{name} ({route}) is not measured in {unit}; use one of: {', '.join(units)}.",
        )


def daily_amount(dose: Dose, schedule: Schedule) -> Decimal:
    """What one dose day adds up to: every scheduled time, or as-needed doses at their
    daily maximum."""
    if schedule.as_needed:
        return dose.amount * (schedule.max_doses_per_day or 1)
    return schedule.daily_total(dose.amount)


def _applies(limit: ImpairedLimit, facts: Condition) -> bool:
    return limit.condition == facts.code.value and within(
        facts, child_pugh=limit.child_pugh, egfr_below=limit.egfr_below
    )


def _ceiling(
    limit: DoseLimit, conditions: Sequence[Condition]
) -> tuple[Amount, str, tuple[str, ...], str | None]:
    """The lowest maximum that applies: the label's, or a lower one for an impairment."""
    best: tuple[Amount, str, tuple[str, ...], str | None] = (
        limit.max_daily,
        limit.label_section,
        limit.sources,
        None,
    )
    for impaired in limit.impaired:
        if not any(_applies(impaired, c) for c in conditions):
            continue
        value = impaired.max_daily.expressed_in(best[0].unit)
        if value is not None and value <= best[0].value:
            best = (
                impaired.max_daily,
                impaired.label_section,
                impaired.sources,
                impaired.condition,
            )
    return best


def _in_mass(
    kb: KnowledgeBase, ingredient: str, route: str, dose: Dose, schedule: Schedule
) -> tuple[Dose, Schedule]:
    """A dose counted in tablets, capsules or mL as the least mass it can be (each
    unit at the drug's smallest strength by that route), so that a finding on it is
    certain; a dose in mass, or in a unit without one strength to count by, as it is."""
    per_unit = smallest_unit_dose(_facts(kb, ingredient), route, dose.unit)
    if dose.unit in MASS_IN_MG or per_unit is None:
        return dose, schedule
    scaled = (
        tuple(a * per_unit.value for a in schedule.amounts)
        if schedule.amounts is not None
        else None
    )
    return (
        Dose(amount=dose.amount * per_unit.value, unit=per_unit.unit),
        replace(schedule, amounts=scaled),
    )


def _severity(given: Decimal, maximum: Decimal) -> Severity | None:
    if given > maximum * CONTRAINDICATED_MULTIPLE:
        return Severity.CONTRAINDICATED
    if given > maximum:
        return Severity.MAJOR
    return None


def dose_range_findings(
    kb: KnowledgeBase,
    *,
    item: Item,
    dose: Dose,
    route: str,
    schedule: Schedule,
    conditions: Sequence[Condition] = (),
) -> list[Finding]:
    """Findings for a daily or single dose above the label's usual adult maximum
    (lowered for the patient's hepatic or renal impairment where the label says so)."""
    if len(item.ingredients) != 1:
        return []
    limit = kb.dose_limits.get((item.ingredients[0], route))
    if limit is None:
        return []
    dose, schedule = _in_mass(kb, item.ingredients[0], route, dose, schedule)
    found = (
        _daily_finding(item, limit, route, dose, schedule, conditions),
        _single_finding(item, limit, route, dose, schedule),
    )
    return [f for f in found if f is not None]


def _daily_finding(
    item: Item,
    limit: DoseLimit,
    route: str,
    dose: Dose,
    schedule: Schedule,
    conditions: Sequence[Condition],
) -> Finding | None:
    """A day's doses above the lowest maximum that applies to the patient."""
    maximum, section, sources, condition = _ceiling(limit, conditions)
    daily = Amount(value=daily_amount(dose, schedule), unit=dose.unit).expressed_in(maximum.unit)
    severity = _severity(daily, maximum.value) if daily is not None else None
    if daily is None or severity is None:
        return None
    where = f" with {condition}" if condition else ""
    return single_finding(
        Kind.DOSE_RANGE,
        rule=f"dose-range:{limit.drug}:{route}" + (f":{condition}" if condition else ""),
        severity=severity,
        item=item,
        mechanism=(
            f"{Amount(value=daily, unit=maximum.unit)} a day is above the usual adult "
            f"maximum of {maximum} a day{where} ({route}; label: {section})."
        ),
        effect="Dose-related adverse effects and toxicity beyond the labelled range.",
        management="Check the amount, unit and schedule; if the dose is intended, record why.",
        sources=sources,
        condition=condition,
    )


def _single_finding(
    item: Item, limit: DoseLimit, route: str, dose: Dose, schedule: Schedule
) -> Finding | None:
    """The largest single administration above the label's maximum single dose."""
    single = limit.max_single
    if single is None:
        return None
    largest = Amount(value=max(schedule.amounts or (dose.amount,)), unit=dose.unit)
    one = largest.expressed_in(single.unit)
    severity = _severity(one, single.value) if one is not None else None
    if severity is None:
        return None
    return single_finding(
        Kind.DOSE_RANGE,
        rule=f"dose-range:{limit.drug}:{route}:single",
        severity=severity,
        item=item,
        mechanism=(
            f"{largest} at once is above the label's maximum single dose of {single} "
            f"({route}; label: {limit.label_section})."
        ),
        effect="Peak-related adverse effects beyond the labelled range.",
        management="Split the daily dose over more administrations, or record why.",
        sources=limit.sources,
        condition="single-dose",
    )
