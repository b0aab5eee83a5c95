"""Taper settings the planner refuses: each error names its field path."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from service.domain.errors import DomainValidationError
from service.domain.taper import (
    Hyperbolic,
    Linear,
    Liquid,
    Manual,
    ManualStep,
    Percent,
    Tablet,
    plan_taper,
)
from tests.unit.taper_drugs import ESCITALOPRAM_SERT, settings

D = Decimal

ONE_TABLET = (Tablet(strength_mg=D(10), divisible_by=2),)


def manual(*pairs: tuple[str, int]) -> Manual:
    return Manual(steps=tuple(ManualStep(daily_dose_mg=D(d), days=n) for d, n in pairs))


INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("off-grid start", {"start": "7"}, "start_dose_mg"),
    ("negative start", {"start": "-10"}, "start_dose_mg"),
    ("start NaN", {"start": "NaN"}, "start_dose_mg"),
    ("negative target", {"target_dose_mg": D(-5)}, "target_dose_mg"),
    ("target equal to start", {"target_dose_mg": D(10)}, "target_dose_mg"),
    ("target above start", {"target_dose_mg": D(15)}, "target_dose_mg"),
    ("off-grid target", {"start": "20", "target_dose_mg": D(3)}, "target_dose_mg"),
    ("zero cap", {"max_cut_pct": D(0)}, "max_cut_pct"),
    ("cap over 100", {"max_cut_pct": D(101)}, "max_cut_pct"),
    ("negative floor", {"floor_dose_mg": D(-1)}, "floor_dose_mg"),
    ("zero interval", {"interval_days": 0}, "interval_days"),
    (
        "slow interval faster",
        {"slow_below_mg": D(5), "slow_interval_days": 7},
        "slow_interval_days",
    ),
    ("slow interval alone", {"slow_interval_days": 28}, "slow_below_mg"),
    ("slow dose alone", {"slow_below_mg": D(5)}, "slow_interval_days"),
    ("start date too early", {"start_date": dt.date(1999, 1, 1)}, "start_date"),
    ("zero step", {"algorithm": Linear(step_mg=D(0))}, "algorithm.step_mg"),
    ("negative percent", {"algorithm": Percent(percent=D(-5))}, "algorithm.percent"),
    ("percent over 100", {"algorithm": Percent(percent=D(150))}, "algorithm.percent"),
    (
        "zero occupancy step",
        {"algorithm": Hyperbolic(occupancy_step_pct=D(0)), "occupancy": ESCITALOPRAM_SERT},
        "algorithm.occupancy_step_pct",
    ),
    ("no occupancy model", {"algorithm": Hyperbolic(occupancy_step_pct=D(5))}, "algorithm.kind"),
    ("no formulations", {"formulations": ()}, "formulations"),
    (
        "tablet thirds",
        {"formulations": (Tablet(strength_mg=D(10), divisible_by=3),)},
        "formulations[0].divisible_by",
    ),
    ("zero strength", {"formulations": (Tablet(strength_mg=D(0)),)}, "formulations[0].strength_mg"),
    (
        "zero resolution",
        {"formulations": (*ONE_TABLET, Liquid(mg_per_ml=D(1), resolution_ml=D(0)))},
        "formulations[1].resolution_ml",
    ),
    (
        "duplicate tablet",
        {"formulations": (*ONE_TABLET, Tablet(strength_mg=D("10.0")))},
        "formulations",
    ),
    (
        "grid too fine",
        {"start": "100", "formulations": (Liquid(mg_per_ml=D(1), resolution_ml=D("0.001")),)},
        "formulations",
    ),
    ("no times", {"times": ()}, "times"),
    ("bad time", {"times": ("8:00",)}, "times"),
    ("repeated time", {"times": ("08:00", "08:00")}, "times"),
    ("seven times", {"times": tuple(f"{h:02d}:00" for h in range(7))}, "times"),
    ("one manual step", {"algorithm": manual(("10", 14))}, "algorithm.steps"),
    (
        "manual not from the start",
        {"algorithm": manual(("5", 14), ("0", 14))},
        "algorithm.steps[0].daily_dose_mg",
    ),
    (
        "manual not to the target",
        {"algorithm": manual(("10", 14), ("5", 14))},
        "algorithm.steps[1].daily_dose_mg",
    ),
    (
        "manual going up",
        {"algorithm": manual(("10", 14), ("5", 14), ("5", 14), ("0", 7))},
        "algorithm.steps[2].daily_dose_mg",
    ),
    (
        "manual off-grid",
        {"algorithm": manual(("10", 14), ("7.5", 14), ("6", 14), ("0", 7))},
        "algorithm.steps[1].daily_dose_mg",
    ),
    (
        "manual zero days",
        {"algorithm": manual(("10", 14), ("5", 0), ("0", 7))},
        "algorithm.steps[1].days",
    ),
    (
        "manual at step 3",
        {"algorithm": manual(("10", 14), ("5", 14), ("4", 14), ("2.5", 14), ("0", 7))},
        "algorithm.steps[3].daily_dose_mg",
    ),
]


@pytest.mark.parametrize(("case", "changes", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_settings_name_their_field(case: str, changes: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "start": "10",
        "algorithm": Percent(percent=D(10)),
        "formulations": ONE_TABLET,
    }
    with pytest.raises(DomainValidationError) as info:
        plan_taper(settings(**(base | changes)))
    assert field in info.value.errors, info.value.errors


def test_every_bad_field_is_named_at_once() -> None:
    with pytest.raises(DomainValidationError) as info:
        plan_taper(
            settings(
                start="10",
                algorithm=Percent(percent=D(0)),
                formulations=ONE_TABLET,
                max_cut_pct=D(0),
                interval_days=0,
                times=("25:00",),
            )
        )
    assert set(info.value.errors) == {"algorithm.percent", "max_cut_pct", "interval_days", "times"}


def test_the_start_dose_message_says_what_cannot_be_made() -> None:
    with pytest.raises(DomainValidationError) as info:
        plan_taper(settings(start="7", algorithm=Percent(percent=D(10)), formulations=ONE_TABLET))
    assert info.value.errors["start_dose_mg"] == [
        "No combination of the formulations makes 7 mg a day in one administration."
    ]


def test_a_plan_of_more_than_500_steps_is_refused() -> None:
    with pytest.raises(DomainValidationError) as info:
        plan_taper(
            settings(
                start="200",
                algorithm=Percent(percent=D("0.5")),
                formulations=(Liquid(mg_per_ml=D(1)),),
                floor_dose_mg=D(1),
            )
        )
    assert list(info.value.errors) == ["algorithm.percent"]


def test_a_tiny_linear_step_is_refused_not_looped() -> None:
    with pytest.raises(DomainValidationError) as info:
        plan_taper(
            settings(
                start="100",
                algorithm=Linear(step_mg=D("0.0001")),
                formulations=(Liquid(mg_per_ml=D(1)),),
            )
        )
    assert list(info.value.errors) == ["algorithm.step_mg"]
