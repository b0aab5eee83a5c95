"""Realistic drugs for the taper tests: catalog formulations as shipped, and builders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from service.domain.catalog import Formulation, Occupancy
from service.domain.taper import Algorithm, TaperFormulation, TaperSettings, default_formulations

D = Decimal
START = dt.date(2025, 1, 6)


def _f(form: str, strengths: tuple[str, ...], unit: str, *, scored: bool = False) -> Formulation:
    return Formulation(
        form=form, strengths=tuple(D(s) for s in strengths), unit=unit, scored=scored
    )


DIAZEPAM = (
    _f("tablet", ("2", "5", "10"), "mg", scored=True),
    _f("oral-solution", ("1",), "mg/mL"),
    _f("oral-concentrate", ("5",), "mg/mL"),
    _f("injection", ("5",), "mg/mL"),
)
ESCITALOPRAM = (
    _f("tablet", ("5",), "mg"),
    _f("tablet", ("10", "20"), "mg", scored=True),
    _f("oral-solution", ("1",), "mg/mL"),
)
SERTRALINE = (
    _f("tablet", ("25", "50", "100"), "mg", scored=True),
    _f("oral-concentrate", ("20",), "mg/mL"),
)
OXYCODONE = (
    _f("tablet", ("5", "10", "15", "20", "30"), "mg"),
    _f("tablet-er", ("10", "15", "20", "30", "40", "60", "80"), "mg"),
    _f("oral-solution", ("1",), "mg/mL"),
    _f("oral-concentrate", ("20",), "mg/mL"),
)
CLONAZEPAM = (
    _f("tablet", ("0.5", "1", "2"), "mg", scored=True),
    _f("tablet-odt", ("0.125", "0.25", "0.5", "1", "2"), "mg"),
)
LORAZEPAM = (
    _f("tablet", ("0.5",), "mg"),
    _f("tablet", ("1", "2"), "mg", scored=True),
    _f("oral-concentrate", ("2",), "mg/mL"),
    _f("injection", ("2", "4"), "mg/mL"),
)

# The shipped SERT occupancy models (service/knowledge/data/drugs/cns-psych.yaml).
ESCITALOPRAM_SERT = Occupancy(
    target="SERT", emax_pct=D("90.7"), ed50_mg=D("1.33"), anchors=(), derivation="test"
)
SERTRALINE_SERT = Occupancy(
    target="SERT", emax_pct=D("86.8"), ed50_mg=D("4.26"), anchors=(), derivation="test"
)


def formulations_of(catalog: tuple[Formulation, ...]) -> tuple[TaperFormulation, ...]:
    return default_formulations(catalog)


def settings(
    *, start: str, algorithm: Algorithm, formulations: tuple[TaperFormulation, ...], **more: Any
) -> TaperSettings:
    """Settings with the planner's defaults unless given."""
    return TaperSettings(
        start_dose_mg=D(start),
        algorithm=algorithm,
        formulations=formulations,
        start_date=more.pop("start_date", START),
        **more,
    )
