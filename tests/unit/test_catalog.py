"""The drug catalog: name resolution, suggestions, classes and curated data
(docs/clinical.md, "Catalog")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from service.domain.catalog import Drug, Product
from service.knowledge import load
from service.knowledge.loader import DATA, load_from

KB = load()
CATALOG = KB.catalog


# --- resolution ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "entry_id", "ingredients"),
    [
        ("Lexapro", "escitalopram", {"escitalopram"}),
        ("lexapro", "escitalopram", {"escitalopram"}),
        ("LEXAPRO 10MG", "escitalopram", {"escitalopram"}),
        ("Lexapro®", "escitalopram", {"escitalopram"}),
        ("Valium", "diazepam", {"diazepam"}),
        ("Coumadin", "warfarin", {"warfarin"}),
        ("warfarin sodium 5 mg", "warfarin", {"warfarin"}),
        ("Percocet", "oxycodone-acetaminophen", {"oxycodone", "acetaminophen"}),
        ("Percocet 5/325", "oxycodone-acetaminophen", {"oxycodone", "acetaminophen"}),
        (
            "oxycodone/acetaminophen 5/325 mg",
            "oxycodone-acetaminophen",
            {"oxycodone", "acetaminophen"},
        ),
        ("oxycodone + acetaminophen", "oxycodone-acetaminophen", {"oxycodone", "acetaminophen"}),
        ("lithium carbonate", "lithium", {"lithium"}),
        ("diazepam 5 mg tablet", "diazepam", {"diazepam"}),
        ("diazepam 1 mg/mL oral solution", "diazepam", {"diazepam"}),
        ("sertraline hydrochloride 50 mg tablet", "sertraline", {"sertraline"}),
        ("Zoloft 50mg tab", "sertraline", {"sertraline"}),
        ("metoprolol succinate ER 25 mg", "metoprolol", {"metoprolol"}),
        (
            "amoxicillin and clavulanate",
            "amoxicillin-clavulanate",
            {"amoxicillin", "clavulanate"},
        ),
        (
            "amoxicillin 875 mg / clavulanate 125 mg",
            "amoxicillin-clavulanate",
            {"amoxicillin", "clavulanate"},
        ),
        ("Augmentin", "amoxicillin-clavulanate", {"amoxicillin", "clavulanate"}),
        ("Tylenol #3", "acetaminophen-codeine", {"acetaminophen", "codeine"}),
        ("paracetamol", "acetaminophen", {"acetaminophen"}),
        ("HCTZ", "hydrochlorothiazide", {"hydrochlorothiazide"}),
        ("St. John's wort", "st-johns-wort", {"st-johns-wort"}),
    ],
)
def test_resolve(text: str, entry_id: str, ingredients: set[str]) -> None:
    resolved = CATALOG.resolve(text)
    assert resolved is not None, text
    assert resolved.input == text
    assert resolved.entry_id == entry_id
    assert set(resolved.ingredients) == ingredients
    assert resolved.name == CATALOG.display_name(entry_id)


def test_an_ad_hoc_combination_resolves_to_every_ingredient() -> None:
    resolved = CATALOG.resolve("sertraline and lisinopril")
    assert resolved is not None
    assert set(resolved.ingredients) == {"sertraline", "lisinopril"}


@pytest.mark.parametrize("text", ["oxycodone/caffeine", "acetaminophen and unobtainium"])
def test_a_combination_with_an_unknown_part_is_not_resolved_to_the_known_part(text: str) -> None:
    assert CATALOG.resolve(text) is None


def test_an_unknown_name_is_unresolved_and_suggestions_are_catalog_names() -> None:
    assert CATALOG.resolve("flibbertigibbet") is None
    suggestions = CATALOG.suggest("flibbertigibbet")
    assert isinstance(suggestions, tuple)
    for s in suggestions:
        assert CATALOG.resolve(s.matched_on) is not None
        assert CATALOG.resolve(s.name) is not None


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("diazepan", "diazepam"), ("sertralin", "sertraline"), ("lisinopirl", "lisinopril")],
)
def test_misspellings_are_not_resolved_but_suggested(typo: str, expected: str) -> None:
    assert CATALOG.resolve(typo) is None
    suggestions = CATALOG.suggest(typo)
    assert suggestions
    assert (suggestions[0].drug_id, suggestions[0].name) == (expected, expected)
    assert len(suggestions) <= 3


@pytest.mark.parametrize(("typo", "expected"), [("diazepan", "diazepam"), ("Vallium", "diazepam")])
def test_search_lists_what_a_misspelling_means_first(typo: str, expected: str) -> None:
    assert CATALOG.search(typo, limit=5)[0].id == expected


def test_search_finds_escitalopram_through_its_brand() -> None:
    results = CATALOG.search("lex", limit=10)
    assert CATALOG.drugs["escitalopram"] in results
    assert results[0] == CATALOG.drugs["escitalopram"]
    assert all(isinstance(r, Drug | Product) for r in results)
    assert len(CATALOG.search("a", limit=5)) == 5
    assert CATALOG.search("   ", limit=5) == []


@pytest.mark.parametrize(
    ("text", "class_id"),
    [
        ("penicillins", "penicillin"),
        ("Penicillin", "penicillin"),
        ("PCN", "penicillin"),
        ("sulfa", "sulfonamide-antibiotic"),
        ("sulfa drugs", "sulfonamide-antibiotic"),
        ("NSAIDs", "nsaid"),
        ("opiates", "opioid"),
        ("cephalosporins", "cephalosporin"),
    ],
)
def test_resolve_class(text: str, class_id: str) -> None:
    found = CATALOG.resolve_class(text)
    assert found is not None
    assert found.id == class_id
    assert found.allergen


@pytest.mark.parametrize("text", ["codeine", "amoxicillin", "flibbertigibbet"])
def test_drug_names_are_not_classes(text: str) -> None:
    assert CATALOG.resolve_class(text) is None


def test_every_catalog_name_resolves_to_its_own_entry() -> None:
    wrong = []
    for entry_id, names in CATALOG.entry_names():
        for name in names:
            resolved = CATALOG.resolve(name)
            if resolved is None or resolved.entry_id != entry_id:
                wrong.append((name, entry_id, resolved and resolved.entry_id))
    assert wrong == []


# A number typed after a brand is stripped as a strength; it must not turn a
# combination product into one of its ingredients, or one drug into another.
@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        ("Tylenol 3", {"acetaminophen", "codeine"}),
        ("Tylenol 4 tablet", {"acetaminophen", "codeine"}),
        ("5 ASA 800 mg", {"mesalamine"}),
    ],
)
def test_a_number_that_is_part_of_a_name_never_resolves_to_another_entry(
    text: str, ingredients: set[str]
) -> None:
    resolved = CATALOG.resolve(text)
    assert resolved is None or set(resolved.ingredients) == ingredients, (
        f"{text!r} resolved to {resolved and resolved.entry_id}"
    )


# Brands that themselves contain a form word or number (XR, ER, HFA, #3) should
# still resolve when a strength and form are typed after them, as plain names do.
@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("Tylenol #3 tablet", "acetaminophen-codeine"),
        ("ProAir HFA 90 mcg inhaler", "albuterol"),
        ("Hysingla ER 20 mg tablet", "hydrocodone"),
        ("Mag-Ox 400 tablet", "magnesium-oxide"),
    ],
)
def test_brands_with_form_words_resolve_with_strength_and_form(text: str, entry_id: str) -> None:
    resolved = CATALOG.resolve(text)
    assert resolved is not None, f"{text!r} did not resolve"
    assert resolved.entry_id == entry_id


# --- curated data ---------------------------------------------------------------------------
def test_the_catalog_has_at_least_300_ingredients() -> None:
    assert len(CATALOG.drugs) >= 300


def test_every_drug_has_at_least_one_class() -> None:
    classless = [d.id for d in CATALOG.drugs.values() if not d.own_classes or not d.classes]
    assert classless == []
    for drug in CATALOG.drugs.values():
        assert set(drug.own_classes) <= drug.classes <= set(CATALOG.classes)


def test_implied_classes_are_added() -> None:
    assert {"benzodiazepine", "cns-depressant"} <= CATALOG.drugs["diazepam"].classes
    assert {"ace-inhibitor", "raas-blocker"} <= CATALOG.drugs["lisinopril"].classes
    # curated mechanism classes reach beyond ATC groups (docs/clinical.md, "Catalog")
    assert "maoi" in CATALOG.drugs["linezolid"].classes
    assert "maoi" in CATALOG.drugs["methylene-blue"].classes
    assert "benzodiazepine" in CATALOG.drugs["clonazepam"].classes
    assert "serotonergic" in CATALOG.drugs["dextromethorphan"].classes


def test_products_resolve_to_catalog_ingredients() -> None:
    for product in CATALOG.products.values():
        assert len(product.ingredients) >= 2, product.id
        assert set(product.ingredients) <= set(CATALOG.drugs), product.id
        assert CATALOG.ingredients_of(product.id) == product.ingredients


WITHDRAWAL_CLASSES = [
    "benzodiazepine",
    "z-drug",
    "ssri",
    "snri",
    "tca",
    "opioid",
    "gabapentinoid",
    "beta-blocker",
    "antiepileptic",
    "antipsychotic",
]


@pytest.mark.parametrize("class_id", WITHDRAWAL_CLASSES)
def test_members_of_withdrawal_risk_classes_carry_the_flag(class_id: str) -> None:
    members = [d for d in CATALOG.drugs.values() if class_id in d.classes]
    assert members, f"no member of {class_id}"
    missing = [d.id for d in members if not d.withdrawal_risk]
    assert missing == []


@pytest.mark.parametrize(
    "drug_id",
    ["baclofen", "clonidine", "phenelzine", "tranylcypromine", "isocarboxazid", "clonazepam"],
)
def test_named_withdrawal_risk_drugs_carry_the_flag(drug_id: str) -> None:
    assert CATALOG.drugs[drug_id].withdrawal_risk


@pytest.mark.parametrize("drug_id", ["amoxicillin", "lisinopril", "metformin", "acetaminophen"])
def test_drugs_without_withdrawal_risk_have_none(drug_id: str) -> None:
    assert CATALOG.drugs[drug_id].withdrawal_risk is None


def strengths(drug_id: str, form: str) -> tuple[set[Decimal], str, bool]:
    forms = [f for f in CATALOG.drugs[drug_id].formulations if f.form == form]
    assert forms, f"{drug_id} has no {form}"
    units = {f.unit for f in forms}
    assert len(units) == 1
    found = {s for f in forms for s in f.strengths}
    return found, units.pop(), any(f.scored for f in forms)


def test_diazepam_formulations() -> None:
    diazepam = CATALOG.drugs["diazepam"]
    tablets = [f for f in diazepam.formulations if f.form == "tablet"]
    assert {s for f in tablets for s in f.strengths} == {Decimal(2), Decimal(5), Decimal(10)}
    assert all(f.scored and f.unit == "mg" for f in tablets)
    assert strengths("diazepam", "oral-solution") == ({Decimal(1)}, "mg/mL", False)


def test_escitalopram_formulations() -> None:
    found, unit, _ = strengths("escitalopram", "tablet")
    assert (found, unit) == ({Decimal(5), Decimal(10), Decimal(20)}, "mg")
    assert strengths("escitalopram", "oral-solution")[:2] == ({Decimal(1)}, "mg/mL")


def test_every_drug_and_class_a_rule_names_is_in_the_catalog() -> None:
    selectors = [
        *(side for r in KB.pair_rules for side in (r.a, r.b)),
        *(side for r in KB.cross_sensitivities for side in (r.allergen, r.drug)),
        *(r.drugs for r in KB.condition_rules),
    ]
    assert selectors
    for selector in selectors:
        assert selector.drugs <= set(CATALOG.drugs)
        assert selector.classes <= set(CATALOG.classes)


def test_every_cited_source_exists() -> None:
    cited = {
        s for r in (*KB.pair_rules, *KB.cross_sensitivities, *KB.condition_rules) for s in r.sources
    }
    cited |= {s for c in CATALOG.classes.values() for s in c.sources}
    assert cited <= set(CATALOG.sources)


def test_the_shipped_data_loads() -> None:
    kb = load_from(DATA)
    assert kb.version == (DATA / "VERSION").read_text(encoding="utf-8").strip()
    assert len(kb.catalog.drugs) == len(CATALOG.drugs)
    assert len(kb.pair_rules) == len(KB.pair_rules) > 0
