"""Validation that needs the dose grid: can the formulations make the doses asked for?"""

from __future__ import annotations

from decimal import Decimal

from service.domain.errors import Problems
from service.domain.taper.arith import text, to_decimal
from service.domain.taper.formulations import amount_problem, canonical, check_formulations
from service.domain.taper.grid import MAX_LEVELS, DoseGrid, grid_unit, units_of
from service.domain.taper.settings import MAX_DOSE_MG, Manual, TaperSettings, check_fields


def validate(settings: TaperSettings) -> DoseGrid:
    """The dose grid of valid settings; otherwise raise naming every bad field."""
    problems = Problems()
    fields_ok = check_fields(settings, problems)
    formulations_ok = check_formulations(settings.formulations, problems)
    grid = build_grid(settings, problems) if fields_ok and formulations_ok else None
    if grid is not None:
        _check_doses(settings, grid, problems)
    problems.raise_if_any()
    assert grid is not None
    return grid


def build_grid(settings: TaperSettings, problems: Problems) -> DoseGrid | None:
    """The grid from 0 up to the start dose, or None (with the reason) when the start
    dose is off the grid or the grid is too fine to plan on."""
    tablets, liquids = canonical(settings.formulations)
    unit = grid_unit(tablets, liquids)
    size = units_of(settings.start_dose_mg, unit)
    if size is None:
        problems.add("start_dose_mg", _unmakeable(settings, settings.start_dose_mg))
        return None
    if size > MAX_LEVELS:
        problems.add(
            "formulations",
            f"These formulations make doses in steps of {text(to_decimal(unit))} mg; planning from "
            f"{settings.start_dose_mg} mg would need more than {MAX_LEVELS} dose levels. "
            "Use a coarser syringe step or fewer formulations.",
        )
        return None
    grid = DoseGrid(
        tablets=tablets,
        liquids=liquids,
        administrations=len(settings.times),
        unit=unit,
        size=size,
    )
    if not grid.achievable(size):
        problems.add("start_dose_mg", _unmakeable(settings, settings.start_dose_mg))
    return grid


def _check_doses(settings: TaperSettings, grid: DoseGrid, problems: Problems) -> None:
    target = settings.target_dose_mg
    if not _makes(grid, target):
        problems.add("target_dose_mg", _unmakeable(settings, target))
    if isinstance(settings.algorithm, Manual):
        for i, step in enumerate(settings.algorithm.steps):
            dose = step.daily_dose_mg
            if not _makes(grid, dose):
                problems.add(f"algorithm.steps[{i}].daily_dose_mg", _unmakeable(settings, dose))


def _makes(grid: DoseGrid, dose: Decimal) -> bool:
    """Whether a dose is achievable; invalid amounts and doses above the start are
    reported by their own checks, not here."""
    if amount_problem(dose, ceiling=MAX_DOSE_MG, allow_zero=True) or dose > grid.mg(grid.size):
        return True
    units = units_of(dose, grid.unit)
    return units is not None and grid.achievable(units)


def _unmakeable(settings: TaperSettings, dose: Decimal) -> str:
    count = len(settings.times)
    taken = "in one administration" if count == 1 else f"shared across {count} administrations"
    return f"No combination of the formulations makes {dose} mg a day {taken}."
