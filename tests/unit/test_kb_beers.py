"""The AGS Beers Criteria 2023 in the shipped knowledge base (rules/beers.yaml):
Table 2 as age rules, Table 3 as drug-condition rules, Table 5 as drug-drug rules."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pytest

from service.domain.conditions import Condition, ConditionCode
from service.domain.interactions import Finding, Item, Kind, Patient, check
from service.domain.severity import Severity
from service.knowledge import load

KB = load()
CATALOG = KB.catalog
CONDITION_RULES = {r.id: r for r in KB.condition_rules}

CONTRAINDICATED = Severity.CONTRAINDICATED
MAJOR = Severity.MAJOR
MODERATE = Severity.MODERATE
MINOR = Severity.MINOR


def item(name: str) -> Item:
    resolved = CATALOG.resolve(name)
    assert resolved is not None, f"{name!r} does not resolve"
    return Item(input=name, name=resolved.name, ingredients=resolved.ingredients)


def of_kind(findings: Iterable[Finding], kind: Kind) -> list[Finding]:
    return [f for f in findings if f.kind is kind]


def age_findings(name: str, age: int) -> list[Finding]:
    return of_kind(check(KB, new=[item(name)], patient=Patient(age=age)), Kind.AGE)


def condition_findings(name: str, condition: Condition) -> list[Finding]:
    found = check(KB, new=[item(name)], patient=Patient(conditions=(condition,)))
    return of_kind(found, Kind.CONDITION)


def pair_findings(one: str, two: str) -> list[Finding]:
    return of_kind(check(KB, new=[item(one)], current=[item(two)]), Kind.DRUG_DRUG)


def code(c: ConditionCode) -> Condition:
    return Condition(code=c)


# --- Table 2: drugs to avoid from 65 ----------------------------------------------

TABLE_2 = [
    ("diphenhydramine", "beers-first-generation-antihistamines"),
    ("Chlor-Trimeton", "beers-first-generation-antihistamines"),
    ("benztropine", "beers-antiparkinson-anticholinergics"),
    ("trihexyphenidyl", "beers-antiparkinson-anticholinergics"),
    ("dicyclomine", "beers-antispasmodics"),
    ("hyoscyamine", "beers-antispasmodics"),
    ("aspirin", "beers-aspirin-primary-prevention"),
    ("warfarin", "beers-warfarin"),
    ("rivaroxaban", "beers-rivaroxaban"),
    ("dipyridamole", "beers-dipyridamole"),
    ("nitrofurantoin", "beers-nitrofurantoin"),
    ("doxazosin", "beers-peripheral-alpha1-blockers"),
    ("prazosin", "beers-peripheral-alpha1-blockers"),
    ("clonidine", "beers-central-alpha-agonists"),
    ("methyldopa", "beers-central-alpha-agonists"),
    ("disopyramide", "beers-disopyramide"),
    ("dronedarone", "beers-dronedarone"),
    ("digoxin", "beers-digoxin"),
    ("nifedipine", "beers-nifedipine-immediate-release"),
    ("amiodarone", "beers-amiodarone"),
    ("amitriptyline", "beers-anticholinergic-antidepressants"),
    ("paroxetine", "beers-anticholinergic-antidepressants"),
    ("doxepin", "beers-doxepin-above-6-mg"),
    ("quetiapine", "beers-antipsychotics"),
    ("haloperidol", "beers-antipsychotics"),
    ("phenobarbital", "beers-barbiturates"),
    ("lorazepam", "beers-benzodiazepines"),
    ("estazolam", "beers-benzodiazepines"),
    ("meprobamate", "beers-meprobamate"),
    ("zolpidem", "beers-z-drugs"),
    ("ergoloid mesylates", "beers-ergoloid-mesylates"),
    ("testosterone", "beers-androgens"),
    ("thyroid-desiccated", "beers-desiccated-thyroid"),
    ("estradiol", "beers-estrogens"),
    ("insulin-lispro", "beers-insulin-sliding-scale"),
    ("megestrol", "beers-megestrol"),
    ("glyburide", "beers-sulfonylureas"),
    ("glipizide", "beers-sulfonylureas"),
    ("metoclopramide", "beers-metoclopramide"),
    ("omeprazole", "beers-ppi-beyond-8-weeks"),
    ("meperidine", "beers-meperidine"),
    ("naproxen", "beers-nsaids-chronic"),
    ("sulindac", "beers-nsaids-chronic"),
    ("indomethacin", "beers-indomethacin-ketorolac"),
    ("ketorolac", "beers-indomethacin-ketorolac"),
    ("cyclobenzaprine", "beers-skeletal-muscle-relaxants"),
    ("orphenadrine", "beers-skeletal-muscle-relaxants"),
    ("desmopressin", "beers-desmopressin"),
]


@pytest.mark.parametrize(("drug", "rule"), TABLE_2)
def test_table_2_drug_gives_a_moderate_age_finding_at_70(drug: str, rule: str) -> None:
    found = age_findings(drug, 70)
    assert len(found) == 1
    assert found[0].severity is MODERATE
    assert rule in found[0].rules
    assert "ags-beers-2023" in found[0].sources
    assert found[0].condition == "older-adult"


@pytest.mark.parametrize(("drug", "rule"), TABLE_2)
def test_table_2_drug_gives_no_age_finding_at_64(drug: str, rule: str) -> None:
    assert age_findings(drug, 64) == []


def test_the_age_rule_applies_from_the_65th_birthday() -> None:
    assert age_findings("zolpidem", 65)[0].severity is MODERATE


def test_a_combination_product_carries_the_finding_of_its_ingredient() -> None:
    found = age_findings("Aggrenox", 70)
    assert found
    assert found[0].severity is MODERATE
    assert {"beers-aspirin-primary-prevention", "beers-dipyridamole"} <= set(found[0].rules)


@pytest.mark.parametrize(
    "drug",
    [
        # members of a Beers class that the criterion does not name
        "midazolam",  # periprocedural use
        "clobazam",  # antiepileptic benzodiazepine
        "baclofen",
        "tizanidine",
        "tamsulosin",
        "silodosin",
        "lofexidine",
        "celecoxib",
        "prochlorperazine",  # antiemetic; not flagged as an antipsychotic from age alone
        "insulin-glargine",  # basal insulin
        "apixaban",
        "clopidogrel",
        "sertraline",
        "loratadine",
        "famotidine",
        "acetaminophen",
        "amlodipine",
        "levothyroxine",
        "metformin",
    ],
)
def test_drugs_outside_table_2_give_no_moderate_age_finding(drug: str) -> None:
    found = age_findings(drug, 80)
    assert [f for f in found if f.severity.at_least(MODERATE)] == []


def test_no_age_finding_without_an_age() -> None:
    found = check(KB, new=[item("diazepam")], patient=Patient())
    assert of_kind(found, Kind.AGE) == []


# --- Table 4: use with caution (minor) ------------------------------------------------


def test_prasugrel_is_a_caution_from_75() -> None:
    assert age_findings("prasugrel", 74) == []
    found = age_findings("prasugrel", 75)
    assert [(f.severity, f.rule) for f in found] == [(MINOR, "beers-caution-prasugrel-ticagrelor")]


def test_sglt2_inhibitor_is_a_minor_caution() -> None:
    found = age_findings("empagliflozin", 70)
    assert [(f.severity, f.rule) for f in found] == [(MINOR, "beers-caution-sglt2-inhibitors")]


def test_hyponatraemia_caution_is_minor_for_an_ssri() -> None:
    found = age_findings("sertraline", 70)
    assert [(f.severity, f.rule) for f in found] == [(MINOR, "beers-caution-hyponatraemia")]


# --- Table 3: drug-disease interactions -------------------------------------------------

FALLS = code(ConditionCode.HISTORY_OF_FALLS)
HEART_FAILURE = code(ConditionCode.HEART_FAILURE)
DEMENTIA = code(ConditionCode.DEMENTIA)
DELIRIUM = code(ConditionCode.DELIRIUM)
PARKINSON = code(ConditionCode.PARKINSON_DISEASE)
GI_BLEEDING = code(ConditionCode.GI_BLEEDING_HISTORY)


def renal(egfr: int) -> Condition:
    return Condition(code=ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(egfr))


TABLE_3 = [
    ("cilostazol", HEART_FAILURE, CONTRAINDICATED, "beers-dd-heart-failure-cilostazol"),
    ("dronedarone", HEART_FAILURE, MAJOR, "beers-dd-heart-failure-dronedarone"),
    ("pioglitazone", HEART_FAILURE, MAJOR, "beers-dd-heart-failure-pioglitazone"),
    ("celecoxib", HEART_FAILURE, MODERATE, "beers-dd-heart-failure-nsaids"),
    ("diltiazem", HEART_FAILURE, MODERATE, "beers-dd-heart-failure-nondihydropyridine-ccb"),
    ("oxybutynin", DELIRIUM, MODERATE, "beers-dd-delirium-anticholinergics"),
    ("lorazepam", DELIRIUM, MODERATE, "beers-dd-delirium-sedatives"),
    ("meperidine", DELIRIUM, MODERATE, "beers-dd-delirium-sedatives"),
    ("prednisone", DELIRIUM, MODERATE, "beers-dd-delirium-corticosteroids"),
    ("famotidine", DELIRIUM, MODERATE, "beers-dd-delirium-h2-blockers"),
    ("risperidone", DELIRIUM, MODERATE, "beers-dd-delirium-antipsychotics"),
    ("diphenhydramine", DEMENTIA, MODERATE, "beers-dd-dementia-anticholinergics"),
    ("zolpidem", DEMENTIA, MODERATE, "beers-dd-dementia-sedatives"),
    ("quetiapine", DEMENTIA, MODERATE, "beers-dd-dementia-antipsychotics"),
    ("sertraline", FALLS, MODERATE, "beers-dd-falls-sedatives-antidepressants-antipsychotics"),
    ("gabapentin", FALLS, MODERATE, "beers-dd-falls-antiepileptics"),
    ("oxycodone", FALLS, MODERATE, "beers-dd-falls-opioids"),
    ("haloperidol", PARKINSON, CONTRAINDICATED, "beers-dd-parkinson-haloperidol"),
    ("risperidone", PARKINSON, MODERATE, "beers-dd-parkinson-antipsychotics"),
    ("metoclopramide", PARKINSON, MODERATE, "beers-dd-parkinson-antiemetics"),
    ("ibuprofen", GI_BLEEDING, MODERATE, "beers-dd-gi-bleeding-nsaids"),
    ("ketorolac", GI_BLEEDING, CONTRAINDICATED, "beers-dd-gi-bleeding-ketorolac"),
    ("naproxen", renal(25), MODERATE, "beers-dd-ckd-nsaids"),
    ("ketorolac", renal(25), CONTRAINDICATED, "beers-dd-ckd-ketorolac"),
    ("nitrofurantoin", renal(25), CONTRAINDICATED, "beers-dd-ckd-nitrofurantoin"),
]


@pytest.mark.parametrize(("drug", "condition", "severity", "rule"), TABLE_3)
def test_table_3_drug_disease_finding(
    drug: str, condition: Condition, severity: Severity, rule: str
) -> None:
    assert CONDITION_RULES[rule].severity is severity
    found = condition_findings(drug, condition)
    assert len(found) == 1
    # a label rule of another file may rate the same drug and condition higher
    assert found[0].severity.at_least(severity)
    assert rule in found[0].rules
    assert found[0].condition == condition.code.value
    assert "ags-beers-2023" in found[0].sources


@pytest.mark.parametrize(
    ("drug", "condition", "severity"),
    [
        ("zolpidem", DEMENTIA, MODERATE),
        ("lorazepam", DELIRIUM, MODERATE),
        ("sertraline", FALLS, MODERATE),
        ("cilostazol", HEART_FAILURE, CONTRAINDICATED),
        ("haloperidol", PARKINSON, CONTRAINDICATED),
        ("ketorolac", renal(20), CONTRAINDICATED),
    ],
)
def test_table_3_findings_at_their_exact_severity(
    drug: str, condition: Condition, severity: Severity
) -> None:
    assert [f.severity for f in condition_findings(drug, condition)] == [severity]


@pytest.mark.parametrize(
    ("drug", "condition"),
    [
        ("quetiapine", PARKINSON),  # Beers' exceptions in Parkinson disease
        ("clozapine", PARKINSON),
        ("amlodipine", HEART_FAILURE),  # a dihydropyridine
        ("celecoxib", GI_BLEEDING),  # COX-2 selective: outside the ulcer criterion
        ("acetaminophen", FALLS),
        ("ondansetron", PARKINSON),
        ("pantoprazole", DELIRIUM),
        ("donepezil", DEMENTIA),
    ],
)
def test_drugs_outside_table_3_give_no_beers_condition_finding(
    drug: str, condition: Condition
) -> None:
    found = condition_findings(drug, condition)
    assert [r for f in found for r in f.rules if r.startswith("beers-")] == []


@pytest.mark.parametrize("drug", ["naproxen", "ketorolac", "nitrofurantoin"])
def test_kidney_criteria_apply_below_an_egfr_of_30_only(drug: str) -> None:
    found = condition_findings(drug, renal(45))
    assert [r for f in found for r in f.rules if r.startswith("beers-dd-ckd")] == []


# --- Table 5: drug-drug interactions to avoid ---------------------------------------------

TABLE_5 = [
    ("diphenhydramine", "oxybutynin", MAJOR, "beers-ddi-anticholinergic-anticholinergic"),
    ("trihexyphenidyl", "amitriptyline", MAJOR, "beers-ddi-anticholinergic-anticholinergic"),
    ("prednisone", "naproxen", MAJOR, "beers-ddi-corticosteroid-nsaid"),
    ("phenytoin", "sulfamethoxazole", MAJOR, "beers-ddi-phenytoin-cotrimoxazole"),
    ("theophylline", "cimetidine", MAJOR, "beers-ddi-theophylline-cimetidine"),
    ("warfarin", "ciprofloxacin", MAJOR, "beers-ddi-warfarin-ciprofloxacin"),
    ("warfarin", "erythromycin", MAJOR, "beers-ddi-warfarin-macrolide"),
    ("warfarin", "sertraline", MAJOR, "beers-ddi-warfarin-ssri"),
    ("amiloride", "triamterene", CONTRAINDICATED, "beers-ddi-amiloride-triamterene"),
    ("doxazosin", "furosemide", MINOR, "beers-ddi-alpha1-blocker-loop-diuretic"),
    ("sertraline", "lamotrigine", MINOR, "beers-ddi-cns-active-count"),
]


@pytest.mark.parametrize(("one", "two", "severity", "rule"), TABLE_5)
def test_table_5_pair(one: str, two: str, severity: Severity, rule: str) -> None:
    found = pair_findings(one, two)
    assert len(found) == 1
    assert found[0].severity is severity
    assert found[0].rule == rule
    assert "ags-beers-2023" in found[0].sources
    # symmetric
    assert [f.severity for f in pair_findings(two, one)] == [severity]


@pytest.mark.parametrize(
    ("one", "two", "rule"),
    [
        # Table 5 pairs another file already rates major or above
        ("oxycodone", "lorazepam", "opioid-benzodiazepine"),
        ("oxycodone", "gabapentin", "gabapentinoid-opioid"),
        ("lithium", "lisinopril", "lithium-raas"),
        ("theophylline", "ciprofloxacin", "theophylline-cyp1a2-inhibitor"),
        ("warfarin", "amiodarone", "warfarin-cyp2c9-inhibitor"),
        ("warfarin", "sulfamethoxazole", "warfarin-cyp2c9-inhibitor"),
        ("amiloride", "lisinopril", "potassium-sparing-raas"),
    ],
)
def test_table_5_pairs_covered_elsewhere_stay_major(one: str, two: str, rule: str) -> None:
    found = pair_findings(one, two)
    assert found
    assert found[0].severity.at_least(MAJOR)
    assert rule in found[0].rules


@pytest.mark.parametrize(
    ("one", "two"),
    [
        ("warfarin", "azithromycin"),  # Beers excludes azithromycin
        ("warfarin", "venlafaxine"),  # an SNRI, not named
        ("tamsulosin", "furosemide"),  # a uroselective alpha blocker
        ("phenytoin", "amoxicillin"),
        ("theophylline", "famotidine"),
        ("lithium", "amlodipine"),
        ("budesonide", "ibuprofen"),  # inhaled corticosteroid
    ],
)
def test_no_beers_drug_drug_rule_for_unnamed_pairs(one: str, two: str) -> None:
    found = pair_findings(one, two)
    assert [r for f in found for r in f.rules if r.startswith("beers-ddi")] == []


def test_every_beers_rule_cites_the_beers_criteria() -> None:
    rules = [*KB.age_rules, *KB.pair_rules, *KB.condition_rules]
    beers = [r for r in rules if r.id.startswith("beers-")]
    assert len(beers) >= 70
    assert all("ags-beers-2023" in r.sources for r in beers)
