"""Hypothesis strategies for taper settings: realistic drugs, and unusual kits."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from service.domain.catalog import Formulation, Occupancy
from service.domain.taper import (
    Algorithm,
    Hyperbolic,
    Linear,
    Liquid,
    Manual,
    ManualStep,
    Percent,
    Tablet,
    TaperFormulation,
    TaperSettings,
    default_formulations,
    plan_taper,
)
from tests.unit import taper_drugs as drugs

D = Decimal

# (catalog formulations, realistic daily start doses, occupancy model or None)
DRUGS: dict[str, tuple[tuple[Formulation, ...], tuple[str, ...], Occupancy | None]] = {
    "diazepam": (drugs.DIAZEPAM, ("2", "5", "7.5", "10", "15", "20", "30", "40"), None),
    "escitalopram": (drugs.ESCITALOPRAM, ("5", "10", "15", "20", "30"), drugs.ESCITALOPRAM_SERT),
    "sertraline": (drugs.SERTRALINE, ("25", "50", "100", "150", "200"), drugs.SERTRALINE_SERT),
    "oxycodone": (drugs.OXYCODONE, ("10", "20", "30", "45", "60", "80"), None),
    "clonazepam": (drugs.CLONAZEPAM, ("0.5", "1", "1.5", "2", "3", "4"), None),
    "lorazepam": (drugs.LORAZEPAM, ("0.5", "1", "2", "3", "4", "6"), None),
}
TIMES = (("08:00",), ("08:00", "20:00"), ("22:00", "08:00"), ("08:00", "14:00", "20:00"))
CAPS = ("10", "20", "25", "33.3", "50", "100")
FLOORS = ("0", "0.25", "0.5", "1", "2", "5", "25")


@st.composite
def base_settings(draw: st.DrawFn, *, liquids: bool | None = None) -> TaperSettings:
    """A realistic drug, start, target, cap, floor, times and intervals; percent 10%."""
    catalog, starts, occupancy = DRUGS[draw(st.sampled_from(sorted(DRUGS)))]
    forms = default_formulations(catalog)
    keep_liquids = draw(st.booleans()) if liquids is None else liquids
    if not keep_liquids:
        forms = tuple(f for f in forms if isinstance(f, Tablet))
    start = draw(st.sampled_from(starts))
    lower = [s for s in starts if D(s) < D(start)]
    target = draw(st.sampled_from(["0", "0", *lower]))
    interval = draw(st.integers(7, 28))
    slow: dict[str, Any] = {}
    if draw(st.booleans()):
        slow = {
            "slow_below_mg": D(draw(st.sampled_from(starts))),
            "slow_interval_days": interval + draw(st.integers(0, 14)),
        }
    return drugs.settings(
        start=start,
        target_dose_mg=D(target),
        algorithm=Percent(percent=D(10)),
        formulations=forms,
        occupancy=occupancy,
        max_cut_pct=D(draw(st.sampled_from(CAPS))),
        floor_dose_mg=D(draw(st.sampled_from(FLOORS))),
        interval_days=interval,
        times=draw(st.sampled_from(TIMES)),
        **slow,
    )


@st.composite
def generated_settings(draw: st.DrawFn) -> TaperSettings:
    s = draw(base_settings())
    kinds = ["linear", "percent"] + (["hyperbolic"] if s.occupancy else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "linear":
        share = D(draw(st.sampled_from(("5", "10", "20", "25", "50"))))
        algorithm: Linear | Percent | Hyperbolic = Linear(step_mg=s.start_dose_mg * share / 100)
    elif kind == "percent":
        algorithm = Percent(percent=D(draw(st.sampled_from(("2.5", "5", "10", "15", "25", "50")))))
    else:
        algorithm = Hyperbolic(occupancy_step_pct=D(draw(st.sampled_from(("2", "5", "10", "20")))))
    return replace(s, algorithm=algorithm)


@st.composite
def manual_settings(draw: st.DrawFn) -> TaperSettings:
    """Manual steps picked from an achievable descending path (a fast percent plan)."""
    s = draw(base_settings())
    path = plan_taper(replace(s, algorithm=Percent(percent=D(50)), max_cut_pct=D(100)))
    middle = [st_.daily_dose_mg for st_ in path.steps[1:-1]]
    chosen = draw(st.lists(st.sampled_from(middle), unique=True)) if middle else []
    doses = [s.start_dose_mg, *sorted(chosen, reverse=True), s.target_dose_mg]
    steps = tuple(ManualStep(daily_dose_mg=d, days=draw(st.integers(1, 60))) for d in doses)
    return replace(s, algorithm=Manual(steps=steps))


@st.composite
def random_kit(draw: st.DrawFn) -> TaperSettings:
    """Unusual but valid formulations and a start dose built from them."""
    tablets = draw(
        st.lists(
            st.builds(
                Tablet,
                strength_mg=st.decimals(min_value=D("0.1"), max_value=D(50), places=2),
                divisible_by=st.sampled_from((1, 2, 4)),
            ),
            max_size=3,
            unique_by=lambda t: t.label,
        )
    )
    liquids = draw(
        st.lists(
            st.builds(
                Liquid,
                mg_per_ml=st.decimals(min_value=D("0.5"), max_value=D(20), places=1),
                resolution_ml=st.sampled_from((D("0.05"), D("0.1"), D("0.2"), D("0.5"))),
                min_volume_ml=st.sampled_from((D("0.1"), D("0.5"), D(1))),
            ),
            max_size=2,
            unique_by=lambda q: q.label,
        )
    )
    assume(tablets or liquids)
    start = sum((t.strength_mg * draw(st.integers(0, 4)) / t.divisible_by for t in tablets), D(0))
    if liquids:
        q = draw(st.sampled_from(liquids))
        steps = draw(st.integers(0, 20))
        start += (
            q.mg_per_ml * q.resolution_ml * steps
            if steps * q.resolution_ml >= q.min_volume_ml
            else 0
        )
    assume(0 < start <= 200)
    choices: list[Algorithm] = [
        Percent(percent=D(10)),
        Linear(step_mg=start / 8),
        Hyperbolic(occupancy_step_pct=D(5)),
    ]
    algorithm = draw(st.sampled_from(choices))
    return drugs.settings(
        start=str(start),
        algorithm=algorithm,
        formulations=(*tablets, *liquids),
        occupancy=drugs.ESCITALOPRAM_SERT,
        max_cut_pct=D(draw(st.sampled_from(CAPS))),
        floor_dose_mg=D(draw(st.sampled_from(FLOORS))),
        times=draw(st.sampled_from(TIMES)),
    )


# Anything the types allow, valid or not.

amounts = st.decimals(min_value=D("-1"), max_value=D(120), places=2, allow_nan=False)


@st.composite
def odd_formulation(draw: st.DrawFn) -> TaperFormulation:
    if draw(st.booleans()):
        return Tablet(strength_mg=draw(amounts), divisible_by=draw(st.sampled_from((1, 2, 3, 4))))
    return Liquid(
        mg_per_ml=draw(amounts),
        resolution_ml=draw(st.sampled_from((D("0.05"), D("0.1"), D("0.25"), D("0"), D("1")))),
        min_volume_ml=draw(st.sampled_from((D("0.1"), D("0.5"), D("2")))),
    )
