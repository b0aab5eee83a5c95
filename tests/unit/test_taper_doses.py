"""Taper formulations: catalog defaults, achievable doses and how each is taken."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from service.domain.catalog import Formulation
from service.domain.errors import DomainValidationError
from service.domain.taper import (
    DEFAULT_MIN_VOLUME_ML,
    DEFAULT_RESOLUTION_ML,
    Liquid,
    Manual,
    ManualStep,
    Percent,
    Tablet,
    TaperPlan,
    default_formulations,
    plan_taper,
)
from service.knowledge import load
from tests.unit.taper_drugs import (
    CLONAZEPAM,
    DIAZEPAM,
    ESCITALOPRAM,
    LORAZEPAM,
    OXYCODONE,
    settings,
)

D = Decimal


def test_diazepam_defaults_halve_scored_tablets_and_keep_the_most_dilute_liquid() -> None:
    # One immediate-release liquid: the 1 mg/mL solution measures small doses more
    # exactly than the 5 mg/mL concentrate.
    assert default_formulations(DIAZEPAM) == (
        Tablet(strength_mg=D(10), divisible_by=2),
        Tablet(strength_mg=D(5), divisible_by=2),
        Tablet(strength_mg=D(2), divisible_by=2),
        Liquid(mg_per_ml=D(1), resolution_ml=D("0.1"), min_volume_ml=D("0.2")),
    )
    assert D("0.1") == DEFAULT_RESOLUTION_ML
    assert D("0.2") == DEFAULT_MIN_VOLUME_ML


def test_escitalopram_defaults_split_only_the_scored_strengths() -> None:
    tablets = [f for f in default_formulations(ESCITALOPRAM) if isinstance(f, Tablet)]
    assert [(t.strength_mg, t.divisible_by) for t in tablets] == [(D(20), 2), (D(10), 2), (D(5), 1)]


def test_defaults_keep_to_one_release_form() -> None:
    def forms(*found: str) -> list[tuple[str, int]]:
        scored = [
            Formulation(form=form, strengths=(D(10),), unit="mg", scored=True) for form in found
        ]
        return [
            (f.form, f.divisible_by) for f in default_formulations(scored) if isinstance(f, Tablet)
        ]

    # Immediate-release tablets and capsules, never with extended-release ones.
    assert forms("tablet", "tablet-er", "capsule-er") == [("tablet", 2)]
    assert forms("capsule", "capsule-er", "tablet-odt") == [("capsule", 1)]
    # Orally disintegrating tablets only when there is nothing else immediate.
    assert forms("tablet-odt", "tablet-er") == [("tablet-odt", 1)]
    # A drug with only extended-release solids gets them, never split.
    assert forms("tablet-er", "capsule-er") == [("capsule-er", 1), ("tablet-er", 1)]


def test_a_paroxetine_like_catalog_never_mixes_release_forms_in_a_plan() -> None:
    catalog = (
        Formulation(form="tablet", strengths=(D(10), D(20)), unit="mg", scored=True),
        Formulation(form="tablet-er", strengths=(D("12.5"), D(25)), unit="mg"),
    )
    plan = plan_taper(
        settings(
            start="20", algorithm=Percent(percent=D(25)), formulations=default_formulations(catalog)
        )
    )
    used = {c.formulation for s in plan.steps for a in s.administrations for c in a.components}
    assert used
    assert all(not f.startswith("tablet-er") for f in used)


def test_other_forms_and_units_are_left_out() -> None:
    others = (
        Formulation(form="injection", strengths=(D(5),), unit="mg/mL"),
        Formulation(form="patch", strengths=(D(25),), unit="mcg/h"),
        Formulation(form="tablet", strengths=(D(50),), unit="mcg"),
        Formulation(form="oral-solution", strengths=(D(1),), unit="mg"),
    )
    assert default_formulations(others) == ()


def test_the_same_strength_listed_twice_keeps_the_scored_one() -> None:
    twice = (
        Formulation(form="tablet", strengths=(D(1),), unit="mg"),
        Formulation(form="tablet", strengths=(D("1.0"),), unit="mg", scored=True),
    )
    assert default_formulations(twice) == (Tablet(strength_mg=D(1), divisible_by=2),)


def test_every_shipped_oral_drug_gets_a_plannable_default() -> None:
    """Each drug's defaults plan a taper from its smallest solid strength; none crashes."""
    drugs = load().catalog.drugs.values()
    planned = 0
    for drug in drugs:
        forms = default_formulations(drug.formulations)
        tablets = [f for f in forms if isinstance(f, Tablet)]
        if not tablets:
            continue
        start = min(t.strength_mg for t in tablets) * 2
        plan = plan_taper(
            settings(start=str(start), algorithm=Percent(percent=D(25)), formulations=forms)
        )
        assert plan.steps[-1].daily_dose_mg == 0, drug.id
        planned += 1
    assert planned > 50


def one_step(dose: str, formulations: tuple[Any, ...], **more: Any) -> TaperPlan:
    """A two-step manual plan whose first step is `dose`, to look at its breakdown."""
    steps = (ManualStep(daily_dose_mg=D(dose), days=7), ManualStep(daily_dose_mg=D(0), days=7))
    return plan_taper(
        settings(start=dose, algorithm=Manual(steps=steps), formulations=formulations, **more)
    )


def components(plan: TaperPlan) -> list[list[tuple[str, str]]]:
    return [
        [(c.formulation, str(c.units if c.units is not None else c.ml)) for c in a.components]
        for a in plan.steps[0].administrations
    ]


@pytest.mark.parametrize(
    ("dose", "expected"),
    [
        # Tablets make what they can; the liquid only the rest.
        ("7", [("tablet 5 mg", "1"), ("oral-solution 1 mg/mL", "2")]),
        ("15", [("tablet 10 mg", "1"), ("tablet 5 mg", "1")]),
        ("2.5", [("oral-solution 1 mg/mL", "2.5")]),
        # 20 + 10 and 1.5 x 20 are both two pieces: whole tablets win.
        ("30", [("tablet 20 mg", "1"), ("tablet 10 mg", "1")]),
        ("20", [("tablet 20 mg", "1")]),
    ],
)
def test_escitalopram_breakdowns(dose: str, expected: list[tuple[str, str]]) -> None:
    assert components(one_step(dose, default_formulations(ESCITALOPRAM))) == [expected]


def test_whole_tablets_win_a_tie_on_pieces() -> None:
    # 3 mg of lorazepam: 2 + 1 (two whole) rather than 2 + 2/2 (one broken).
    plan = one_step("3", default_formulations(LORAZEPAM)[:3])
    assert components(plan) == [[("tablet 2 mg", "1"), ("tablet 1 mg", "1")]]


def test_one_half_tablet_beats_several_whole_ones() -> None:
    forms = (Tablet(strength_mg=D(10), divisible_by=2), Tablet(strength_mg=D(1)))
    assert components(one_step("5", forms)) == [[("tablet 10 mg", "0.5")]]


def test_quartered_tablets() -> None:
    plan = one_step("0.75", (Tablet(strength_mg=D(1), divisible_by=4),))
    assert components(plan) == [[("tablet 1 mg", "0.75")]]


def test_oxycodone_immediate_and_extended_release_both_count() -> None:
    plan = one_step("45", default_formulations(OXYCODONE))
    # 45 = 30 + 15: two pieces; the larger tablet first; the immediate-release form
    # sorts before "tablet-er" at equal strength.
    assert components(plan) == [[("tablet 30 mg", "1"), ("tablet 15 mg", "1")]]


def test_clonazepam_odt_makes_eighths_when_the_clinician_lists_it() -> None:
    # By default the plain tablets only; listed explicitly, the ODT joins them.
    assert all(
        isinstance(f, Tablet) and f.form == "tablet" for f in default_formulations(CLONAZEPAM)
    )
    listed = (*default_formulations(CLONAZEPAM), Tablet(strength_mg=D("0.125"), form="tablet-odt"))
    plan = one_step("0.625", listed)
    assert components(plan) == [[("tablet 0.5 mg", "1"), ("tablet-odt 0.125 mg", "1")]]


def test_a_liquid_below_its_minimum_volume_cannot_make_the_dose() -> None:
    liquid = (Liquid(mg_per_ml=D(1), resolution_ml=D("0.1"), min_volume_ml=D("0.5")),)
    assert components(one_step("0.5", liquid)) == [[("oral-solution 1 mg/mL", "0.5")]]
    with pytest.raises(DomainValidationError) as info:
        one_step("0.3", liquid)
    assert "start_dose_mg" in info.value.errors


def test_components_add_up_exactly_in_each_administration() -> None:
    plan = one_step("23.7", default_formulations(ESCITALOPRAM), times=("08:00", "14:00", "20:00"))
    administrations = plan.steps[0].administrations
    assert [str(a.dose_mg) for a in administrations] == ["7.9", "7.9", "7.9"]
    for a in administrations:
        assert sum(c.dose_mg for c in a.components) == a.dose_mg
    assert sum(a.dose_mg for a in administrations) == D("23.7")


def test_equivalent_inputs_give_byte_identical_plans() -> None:
    """Order of formulations and times and trailing zeros do not change the plan."""
    forms = default_formulations(DIAZEPAM)
    one = settings(
        start="20",
        algorithm=Percent(percent=D(10)),
        formulations=forms,
        times=("08:00", "20:00"),
        floor_dose_mg=D(1),
    )
    other = settings(
        start="20.00",
        algorithm=Percent(percent=D("10.0")),
        formulations=tuple(reversed(forms)),
        times=("20:00", "08:00"),
        floor_dose_mg=D("1.0"),
    )
    first = json.dumps(plan_taper(one).to_json(), sort_keys=True)
    assert first == json.dumps(plan_taper(other).to_json(), sort_keys=True)
    assert first == json.dumps(plan_taper(one).to_json(), sort_keys=True)
