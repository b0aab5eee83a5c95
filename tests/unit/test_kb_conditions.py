"""Drug-condition rules (rules/conditions.yaml) and the patient-reported OTC, herbal and
supplement products (drugs/otc.yaml, rules/otc.yaml) against the shipped knowledge base."""

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
OTC_RULES = {r.id: r for r in KB.pair_rules if r.id.startswith("otc-")}
COND_RULES = {r.id: r for r in KB.condition_rules if r.id.startswith("cond-")}

CONTRAINDICATED = Severity.CONTRAINDICATED
MAJOR = Severity.MAJOR
MODERATE = Severity.MODERATE


def item(name: str) -> Item:
    resolved = CATALOG.resolve(name)
    assert resolved is not None, f"{name!r} does not resolve"
    return Item(input=name, name=resolved.name, ingredients=resolved.ingredients)


def with_condition(name: str, condition: Condition) -> list[Finding]:
    findings = check(KB, new=[item(name)], patient=Patient(conditions=(condition,)))
    return [f for f in findings if f.kind is Kind.CONDITION]


def drug_drug(a: str, b: str) -> list[Finding]:
    return [f for f in check(KB, new=[item(a)], current=[item(b)]) if f.kind is Kind.DRUG_DRUG]


def worst(findings: Iterable[Finding]) -> Severity | None:
    ranked = sorted(findings, key=lambda f: f.severity.rank)
    return ranked[0].severity if ranked else None


def code(c: ConditionCode, **facts: object) -> Condition:
    return Condition(code=c, **facts)  # type: ignore[arg-type]


SUD = code(ConditionCode.SUBSTANCE_USE_DISORDER)
ALCOHOL_USE = code(ConditionCode.ALCOHOL_USE)
LONG_QT = code(ConditionCode.LONG_QT)


# --- the catalog: patient-reported products resolve ------------------------------------
@pytest.mark.parametrize(
    ("text", "entry_id"),
    [
        ("St John's wort", "st-johns-wort"),
        ("alcohol", "alcohol"),
        ("beer", "alcohol"),
        ("wine", "alcohol"),
        ("ethanol", "alcohol"),
        ("kava", "kava"),
        ("valerian root", "valerian"),
        ("melatonin 3 mg", "melatonin"),
        ("Ginkgo biloba", "ginkgo"),
        ("ginseng", "ginseng"),
        ("garlic supplement", "garlic"),
        ("fish oil", "fish-oil"),
        ("omega-3", "fish-oil"),
        ("curcumin", "turmeric"),
        ("goldenseal", "goldenseal"),
        ("CBD", "cannabidiol"),
        ("Epidiolex", "cannabidiol"),
        ("marijuana", "cannabis"),
        ("grapefruit juice", "grapefruit-juice"),
        ("red yeast rice", "red-yeast-rice"),
        ("echinacea", "echinacea"),
        ("vitamin K", "phytonadione"),
        ("Pepto-Bismol", "bismuth-subsalicylate"),
        ("milk of magnesia", "magnesium-hydroxide"),
        ("L-tryptophan", "tryptophan"),
        ("Benadryl", "diphenhydramine"),
        ("Unisom SleepTabs", "doxylamine"),
        ("Sudafed", "pseudoephedrine"),
        ("Imodium", "loperamide"),
        ("Pepcid", "famotidine"),
    ],
)
def test_patient_reported_products_resolve(text: str, entry_id: str) -> None:
    resolved = CATALOG.resolve(text)
    assert resolved is not None, text
    assert resolved.entry_id == entry_id


@pytest.mark.parametrize(
    ("drug_id", "class_id"),
    [
        ("alcohol", "cns-depressant"),
        ("kava", "cns-depressant"),
        ("cannabidiol", "cns-depressant"),
        ("st-johns-wort", "serotonergic"),
        ("st-johns-wort", "strong-cyp3a4-inducer"),
        ("tryptophan", "serotonergic"),
        ("grapefruit-juice", "moderate-cyp3a4-inhibitor"),
        ("red-yeast-rice", "statin"),
        ("ginkgo", "bleeding-risk-supplement"),
        ("fish-oil", "bleeding-risk-supplement"),
        ("ginkgo", "supplement"),
        ("calcium-citrate", "polyvalent-cation"),
        ("calcium-carbonate", "polyvalent-cation"),
        ("potassium-gluconate", "potassium-supplement"),
    ],
)
def test_mechanism_classes_of_reported_products(drug_id: str, class_id: str) -> None:
    assert class_id in CATALOG.drugs[drug_id].classes


@pytest.mark.parametrize("drug_id", ["grapefruit-juice", "ginkgo", "melatonin", "valerian"])
def test_products_without_source_support_stay_out_of_unsupported_classes(drug_id: str) -> None:
    classes = CATALOG.drugs[drug_id].classes
    assert "strong-cyp3a4-inhibitor" not in classes
    assert "anticoagulant" not in classes
    assert "antiplatelet" not in classes
    if drug_id != "grapefruit-juice":
        assert "cns-depressant" not in classes


# --- reported products against prescriptions -------------------------------------------
def test_alcohol_with_diazepam_is_at_least_major() -> None:
    for findings in (drug_drug("alcohol", "diazepam"), drug_drug("Valium", "beer")):
        assert len(findings) == 1
        assert findings[0].severity.at_least(MAJOR)
        assert "otc-alcohol-benzodiazepine" in findings[0].rules


def test_alcohol_with_an_opioid_is_major_through_the_cns_depressant_class() -> None:
    (finding,) = drug_drug("wine", "oxycodone")
    assert finding.severity is MAJOR
    assert "opioid-cns-depressant" in finding.rules


def test_st_johns_wort_with_escitalopram_is_a_serotonergic_finding() -> None:
    (finding,) = drug_drug("St John's wort", "escitalopram")
    assert finding.severity.at_least(MAJOR)
    assert "serotonergic-serotonergic" in finding.rules
    assert "serotonergic" in finding.classes


# (rule id, product, prescription): the rule is the most severe match of the pair.
OTC_POSITIVE: list[tuple[str, str, str]] = [
    ("otc-alcohol-benzodiazepine", "alcohol", "zolpidem"),
    ("otc-alcohol-disulfiram-reaction", "alcohol", "metronidazole"),
    ("otc-alcohol-disulfiram-reaction", "beer", "Antabuse"),
    ("otc-alcohol-acetaminophen", "alcohol", "Tylenol"),
    ("otc-alcohol-nsaid", "liquor", "ibuprofen"),
    ("otc-alcohol-hypoglycaemic", "alcohol", "glipizide"),
    ("otc-st-johns-wort-digoxin", "St John's wort", "digoxin"),
    ("otc-st-johns-wort-cyp3a4-substrate", "St John's wort", "simvastatin"),
    ("otc-kava-hepatotoxic", "kava", "ketoconazole"),
    ("otc-kava-benzodiazepine", "kava", "alprazolam"),
    ("otc-bleeding-supplement-antithrombotic", "ginkgo biloba", "clopidogrel"),
    ("otc-bleeding-supplement-antithrombotic", "fish oil", "apixaban"),
    ("otc-ginseng-warfarin", "ginseng", "warfarin"),
    ("otc-goldenseal-cyp3a4", "goldenseal", "midazolam"),
    ("otc-goldenseal-metformin", "goldenseal", "metformin"),
    ("otc-red-yeast-rice-cyp3a4-inhibitor", "red yeast rice", "clarithromycin"),
    ("otc-melatonin-fluvoxamine", "melatonin", "fluvoxamine"),
    ("otc-vitamin-k-warfarin", "vitamin K", "Coumadin"),
    ("otc-cation-quinolone-tetracycline", "calcium citrate", "ciprofloxacin"),
    ("otc-cation-levothyroxine", "ferrous gluconate", "levothyroxine"),
    ("otc-cation-integrase-inhibitor", "Tums", "dolutegravir"),
    ("otc-cation-bisphosphonate", "calcium carbonate", "alendronate"),
    ("otc-grapefruit-avoid", "grapefruit juice", "tacrolimus"),
    ("otc-grapefruit-moderate", "grapefruit juice", "felodipine"),
    ("otc-loperamide-inhibitor", "Imodium", "itraconazole"),
    ("otc-loperamide-qt", "loperamide", "ondansetron"),
    ("otc-bismuth-subsalicylate-anticoagulant", "Pepto-Bismol", "rivaroxaban"),
    ("otc-cannabidiol-valproate", "CBD", "valproate"),
    ("otc-cannabidiol-clobazam", "Epidiolex", "clobazam"),
]


@pytest.mark.parametrize(
    ("rule_id", "a", "b"), OTC_POSITIVE, ids=[f"{r}:{a}+{b}" for r, a, b in OTC_POSITIVE]
)
def test_each_otc_rule_fires_at_its_own_severity(rule_id: str, a: str, b: str) -> None:
    rule = OTC_RULES[rule_id]
    for findings in (drug_drug(a, b), drug_drug(b, a)):
        assert len(findings) == 1, [(f.severity, f.rules) for f in findings]
        assert findings[0].severity == rule.severity
        assert rule_id in findings[0].rules


def test_every_otc_rule_has_a_positive_case() -> None:
    assert sorted(set(OTC_RULES) - {r for r, _, _ in OTC_POSITIVE}) == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("melatonin", "sertraline"),
        ("fish oil", "atorvastatin"),
        ("echinacea", "lisinopril"),
        ("ginseng", "apixaban"),
        ("goldenseal", "lisinopril"),
        ("grapefruit juice", "pravastatin"),
        ("grapefruit juice", "rosuvastatin"),
        ("valerian", "metformin"),
        ("vitamin K", "apixaban"),
    ],
)
def test_reported_products_without_an_interaction_raise_nothing(a: str, b: str) -> None:
    assert drug_drug(a, b) == []


# --- drug-condition rules -----------------------------------------------------------
def test_diazepam_with_substance_use_disorder_and_with_alcohol_use() -> None:
    for condition in (SUD, ALCOHOL_USE):
        findings = with_condition("diazepam", condition)
        assert len(findings) == 1
        assert findings[0].severity.at_least(MAJOR)
        assert findings[0].condition == condition.code.value


def test_opioids_and_stimulants_with_substance_use_disorder_are_major() -> None:
    for name in ("oxycodone", "Ritalin", "Vyvanse"):
        assert worst(with_condition(name, SUD)) is MAJOR


def test_buprenorphine_for_opioid_use_disorder_is_not_flagged_as_major() -> None:
    findings = [f for f in with_condition("buprenorphine", SUD) if f.rule.startswith("cond-")]
    assert findings
    assert all(f.severity is MODERATE for f in findings)


def test_escitalopram_and_citalopram_with_long_qt() -> None:
    for name in ("escitalopram", "Celexa"):
        assert worst(with_condition(name, LONG_QT)) is CONTRAINDICATED


def test_sertraline_with_long_qt_raises_nothing() -> None:
    assert with_condition("sertraline", LONG_QT) == []


@pytest.mark.parametrize(
    ("egfr", "contraindicated"), [(25, True), (29, True), (30, False), (45, False), (90, False)]
)
def test_metformin_by_egfr(egfr: int, contraindicated: bool) -> None:
    renal = code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(egfr))
    findings = with_condition("metformin", renal)
    assert (worst(findings) is CONTRAINDICATED) is contraindicated
    if egfr >= 45:
        assert not [f for f in findings if f.rule.startswith("cond-metformin")]


@pytest.mark.parametrize(
    ("child_pugh", "contraindicated"), [("A", False), ("B", False), ("C", True)]
)
def test_diazepam_by_child_pugh(child_pugh: str, contraindicated: bool) -> None:
    hepatic = code(ConditionCode.HEPATIC_IMPAIRMENT, child_pugh=child_pugh)
    findings = with_condition("Valium", hepatic)
    assert (worst(findings) is CONTRAINDICATED) is contraindicated


@pytest.mark.parametrize(
    ("name", "condition", "severity"),
    [
        ("bupropion", code(ConditionCode.SEIZURE_DISORDER), CONTRAINDICATED),
        ("tramadol", code(ConditionCode.SEIZURE_DISORDER), MAJOR),
        ("metronidazole", ALCOHOL_USE, CONTRAINDICATED),
        ("Cymbalta", ALCOHOL_USE, MAJOR),
        ("nitrofurantoin", code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(25)), CONTRAINDICATED),
        ("nitrofurantoin", code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(50)), MAJOR),
        ("Tikosyn", code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(15)), CONTRAINDICATED),
        ("ketoconazole", code(ConditionCode.HEPATIC_IMPAIRMENT, child_pugh="A"), CONTRAINDICATED),
        ("Tikosyn", LONG_QT, CONTRAINDICATED),
        ("codeine", code(ConditionCode.BREASTFEEDING), MAJOR),
        ("cilostazol", code(ConditionCode.HEART_FAILURE), CONTRAINDICATED),
        ("pioglitazone", code(ConditionCode.HEART_FAILURE), MAJOR),
        ("haloperidol", code(ConditionCode.PARKINSON_DISEASE), CONTRAINDICATED),
        ("Reglan", code(ConditionCode.PARKINSON_DISEASE), MAJOR),
        ("ketorolac", code(ConditionCode.GI_BLEEDING_HISTORY), CONTRAINDICATED),
        ("kava", code(ConditionCode.HEPATIC_IMPAIRMENT, child_pugh="B"), MAJOR),
        ("alcohol", code(ConditionCode.PREGNANCY), MAJOR),
    ],
)
def test_label_rules_fire_at_least_at_their_tier(
    name: str, condition: Condition, severity: Severity
) -> None:
    findings = with_condition(name, condition)
    assert findings, (name, condition)
    assert worst(findings) is not None
    assert worst(findings).at_least(severity)


@pytest.mark.parametrize(
    ("name", "condition"),
    [
        ("lorazepam", code(ConditionCode.HEPATIC_IMPAIRMENT, child_pugh="C")),
        ("amoxicillin", code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(25))),
        ("metformin", code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(60))),
        ("dofetilide", code(ConditionCode.RENAL_IMPAIRMENT, egfr=Decimal(75))),
        ("levetiracetam", code(ConditionCode.SEIZURE_DISORDER)),
        ("amlodipine", code(ConditionCode.HEART_FAILURE)),
        ("quetiapine", code(ConditionCode.PARKINSON_DISEASE)),
        ("acetaminophen", code(ConditionCode.HEPATIC_IMPAIRMENT, child_pugh="A")),
        ("lisinopril", SUD),
        ("sertraline", code(ConditionCode.BREASTFEEDING)),
    ],
)
def test_true_negatives(name: str, condition: Condition) -> None:
    own = [f for f in with_condition(name, condition) if f.rule.startswith("cond-")]
    assert own == [], [(f.rule, f.severity) for f in own]


def test_condition_rule_ids_are_prefixed_and_cite_known_sources() -> None:
    assert len(COND_RULES) >= 70
    for rule in COND_RULES.values():
        assert rule.sources
        assert set(rule.sources) <= set(CATALOG.sources)
