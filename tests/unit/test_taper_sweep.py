"""The three formulation properties over a fixed sweep of realistic configurations.

For each drug, start dose, algorithm, cap, interval, number of times a day, floor (none,
or F's smallest tablet part) and pair of formulation sets F and F' (F' adds to F): 1,920
pairs. The plan with F' never ends on a larger last dose, never has a larger flagged cut
in mg and, with an occupancy model, never a larger occupancy drop in one step
(docs/clinical.md, "Taper planner").
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise, product

from service.domain.errors import DomainValidationError
from service.domain.taper import (
    Algorithm,
    Flag,
    Hyperbolic,
    Linear,
    Liquid,
    Percent,
    Tablet,
    TaperFormulation,
    TaperPlan,
    TaperSettings,
    default_formulations,
)
from tests.unit import taper_drugs as drugs
from tests.unit.taper_checks import attempt
from tests.unit.taper_strategies import DRUGS

D = Decimal


def _pairs(forms: tuple[TaperFormulation, ...]) -> list[tuple[tuple[TaperFormulation, ...], ...]]:
    """(F, F') pairs: the largest tablet, then all tablets, then tablets and the liquid."""
    tablets = tuple(f for f in forms if isinstance(f, Tablet))
    liquids = tuple(f for f in forms if isinstance(f, Liquid)) or (Liquid(mg_per_ml=D(1)),)
    return [(tablets[:1], tablets), (tablets, (*tablets, *liquids[:1]))]


def _algorithms(start: Decimal, occupancy: object) -> list[Algorithm]:
    found: list[Algorithm] = [
        Percent(percent=D(10)),
        Percent(percent=D(25)),
        Linear(step_mg=start / 8),
    ]
    if occupancy is not None:
        found.append(Hyperbolic(occupancy_step_pct=D(5)))
    return found


def _configurations() -> list[tuple[TaperSettings, TaperSettings]]:
    out = []
    for catalog, starts, occupancy in DRUGS.values():
        forms = default_formulations(catalog)
        for start, times, cap, interval, (fewer, more) in product(
            starts[-3:], (("08:00",), ("08:00", "20:00")), ("10", "25"), (7, 14), _pairs(forms)
        ):
            floors = (
                D(0),
                min(t.strength_mg / t.divisible_by for t in fewer if isinstance(t, Tablet)),
            )
            for algorithm, floor in product(_algorithms(D(start), occupancy), floors):
                base = drugs.settings(
                    start=start,
                    algorithm=algorithm,
                    formulations=fewer,
                    occupancy=occupancy,
                    max_cut_pct=D(cap),
                    floor_dose_mg=floor,
                    interval_days=interval,
                    times=times,
                )
                out.append((base, replace(base, formulations=more)))
    return out


def _plan(s: TaperSettings) -> TaperPlan | None:
    """The plan, or None when F cannot make the start dose (or the plan is too long)."""
    found = attempt(s)
    if isinstance(found, DomainValidationError):
        assert set(found.errors) <= {"start_dose_mg", "algorithm.step_mg", "algorithm.percent"}
        return None
    return found


def _flagged_cut(plan: TaperPlan) -> Fraction:
    return max(
        (
            Fraction(a.daily_dose_mg - b.daily_dose_mg)
            for a, b in pairwise(plan.steps)
            if {Flag.GRID_LIMITED, Flag.EXCEEDS_CAP} & set(b.flags)
        ),
        default=Fraction(0),
    )


def _drop(s: TaperSettings, plan: TaperPlan) -> Decimal:
    assert s.occupancy is not None
    levels = [s.occupancy.at(x.daily_dose_mg) for x in plan.steps]
    return max(a - b for a, b in pairwise(levels))


def test_the_three_properties_hold_over_the_sweep() -> None:
    checked = 0
    for fewer, more in _configurations():
        with_f, with_more = _plan(fewer), _plan(more)
        if with_f is None or with_more is None:
            continue
        checked += 1
        where = (fewer, [f.label for f in more.formulations])
        assert with_more.steps[-2].daily_dose_mg <= with_f.steps[-2].daily_dose_mg, where
        assert _flagged_cut(with_more) <= _flagged_cut(with_f), where
        if fewer.occupancy is not None:
            assert _drop(more, with_more) <= _drop(fewer, with_f), where
    assert checked >= 1_700
