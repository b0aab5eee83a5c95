"""An EHR's medication concept resolved to the catalog: by RxNorm ingredient code,
by ATC, by an RxNorm clinical-drug name in the display or text, and the codes and
names that resolve to nothing listed; and a catalog entry coded back."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.domain.catalog import Catalog
from service.domain.drug_names import ClinicalDrugName, clinical_drug_name
from service.interop.coding import ATC, RXNORM, medication_concept, resolve_concept
from service.knowledge import load


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load().catalog


def resolved(catalog: Catalog, **concept: Any) -> tuple[str, ...]:
    found = resolve_concept(catalog, concept).resolved
    assert found is not None, concept
    return found.ingredients


def test_an_rxnorm_ingredient_code_resolves_whatever_the_text(catalog: Catalog) -> None:
    coding = [{"system": RXNORM, "code": "36437"}]
    assert resolved(catalog, coding=coding, text="something else") == ("sertraline",)


def test_parts_naming_different_drugs_are_a_conflict_never_the_first_part(
    catalog: Catalog,
) -> None:
    sertraline = {"system": RXNORM, "code": "36437"}
    for concept in (
        {"coding": [sertraline], "text": "phenelzine"},
        {"coding": [sertraline, {"system": ATC, "code": "N06AF03"}]},
        {
            "coding": [{"system": RXNORM, "code": "1", "display": "Phenelzine 15 MG Oral Tablet"}],
            "text": "sertraline",
        },
    ):
        found = resolve_concept(catalog, concept)
        assert (found.resolved, found.conflict) == (None, True), concept
        assert any("phenelzine" in part.lower() for part in found.unknown), found
        assert any("sertraline" in part.lower() for part in found.unknown), found
    # A display in another language, say, that resolves to nothing does not conflict.
    agreeing = {"coding": [{**sertraline, "display": "Sertralin-ratiopharm"}], "text": "Zoloft"}
    assert resolved(catalog, **agreeing) == ("sertraline",)


def test_an_atc_code_resolves_in_any_case(catalog: Catalog) -> None:
    assert resolved(catalog, coding=[{"system": ATC, "code": "n06ab10"}]) == ("escitalopram",)


def test_an_atc_code_two_ingredients_share_resolves_to_neither(catalog: Catalog) -> None:
    drugs = dict(catalog.drugs)
    drugs["citalopram"] = dataclasses.replace(drugs["citalopram"], atc="N06AB10")
    shared = Catalog(
        drugs=drugs, products=catalog.products, classes=catalog.classes, sources=catalog.sources
    )
    assert shared.by_atc("N06AB10") is None
    assert shared.by_atc("N06AB06") is drugs["sertraline"]
    found = resolve_concept(shared, {"coding": [{"system": ATC, "code": "N06AB10"}]})
    assert found.resolved is None
    assert found.unknown == (f"{ATC}|N06AB10",)


def test_an_unknown_rxnorm_code_falls_back_to_its_display(catalog: Catalog) -> None:
    # 312938 is a clinical-drug code, not an ingredient code the catalog holds
    coding = [{"system": RXNORM, "code": "312938", "display": "sertraline 50 MG Oral Tablet"}]
    assert resolved(catalog, coding=coding) == ("sertraline",)


@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        ("Tramadol Hydrochloride 50 MG Oral Tablet", ("tramadol",)),
        ("sertraline 50 MG Oral Tablet", ("sertraline",)),
        ("24 HR venlafaxine 75 MG Extended Release Oral Capsule", ("venlafaxine",)),
        ("12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet", ("oxycodone",)),
        ("0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe", ("enoxaparin",)),
        ("fentanyl 0.025 MG/HR Transdermal System", ("fentanyl",)),
        ("albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", ("albuterol",)),
        ("escitalopram 10 MG Oral Tablet [Lexapro]", ("escitalopram",)),
        ("diazepam 5 MG Oral Tablet", ("diazepam",)),
    ],
)
def test_clinical_drug_names_resolve_to_their_ingredient(
    catalog: Catalog, text: str, ingredients: tuple[str, ...]
) -> None:
    assert resolved(catalog, text=text) == ingredients


def test_a_combination_resolves_to_its_product(catalog: Catalog) -> None:
    text = "Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension"
    found = resolve_concept(catalog, {"text": text}).resolved
    assert found is not None
    assert found.entry_id == "amoxicillin-clavulanate"
    assert set(found.ingredients) == {"amoxicillin", "clavulanate"}
    assert found.input == text


def test_a_combination_with_no_product_resolves_to_each_ingredient(catalog: Catalog) -> None:
    text = "sertraline 50 MG / tramadol 50 MG Oral Tablet"
    assert resolved(catalog, text=text) == ("sertraline", "tramadol")


def test_codes_and_names_that_resolve_to_nothing_are_all_listed(catalog: Catalog) -> None:
    concept = {
        "coding": [
            {"system": RXNORM, "code": "999999999", "display": "frobnicate 5 MG Oral Tablet"},
            {"system": ATC, "code": "Z99ZZ99"},
        ],
        "text": "frobnicate",
    }
    found = resolve_concept(catalog, concept)
    assert found.resolved is None
    assert found.unknown == (
        f"{RXNORM}|999999999",
        f"{ATC}|Z99ZZ99",
        "frobnicate",
        "frobnicate 5 MG Oral Tablet",
    )


def test_a_part_of_a_combination_the_catalog_lacks_resolves_nothing(catalog: Catalog) -> None:
    found = resolve_concept(catalog, {"text": "sertraline 50 MG / frobnicate 5 MG Oral Tablet"})
    assert found.resolved is None


def test_a_coded_catalog_entry_carries_rxnorm_atc_and_text(catalog: Catalog) -> None:
    concept = medication_concept(catalog, "diazepam", "Valium 5 mg")
    assert concept["text"] == "Valium 5 mg"
    assert concept["coding"] == [
        {"system": RXNORM, "code": "3322", "display": "diazepam"},
        {"system": ATC, "code": "N05BA01", "display": "diazepam"},
    ]


def test_an_uncoded_ingredient_keeps_its_atc(catalog: Catalog) -> None:
    concept = medication_concept(catalog, "lithium", "lithium carbonate 300 mg")
    assert [c["system"] for c in concept["coding"]] == [ATC]


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            "Amoxicillin 120 MG/ML / clavulanate potassium 8.58 MG/ML Oral Suspension",
            ClinicalDrugName(ingredients=("Amoxicillin", "clavulanate potassium")),
        ),
        (
            "escitalopram 10 MG Oral Tablet [Lexapro]",
            ClinicalDrugName(ingredients=("escitalopram",), brand="Lexapro"),
        ),
        (
            "insulin glargine 100 UNT/ML Pen Injector",
            ClinicalDrugName(ingredients=("insulin glargine",)),
        ),
        ("sertraline", None),
        ("oxycodone/acetaminophen 5/325", None),
        ("50 MG Oral Tablet", None),
    ],
)
def test_the_clinical_drug_name_parser(text: str, parsed: ClinicalDrugName | None) -> None:
    assert clinical_drug_name(text) == parsed
