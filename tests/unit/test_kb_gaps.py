"""The drug-drug rules of rules/gaps.yaml: each kind fires at its expected severity,
and the members of a class where the interaction is absent stay silent."""

from __future__ import annotations

import pytest

from service.domain.interactions import Finding, Item, Kind, check
from service.domain.severity import Severity
from service.knowledge import load

KB = load()
CATALOG = KB.catalog
RULES = {r.id: r for r in KB.pair_rules}
GAP_RULES = {rid for rid in RULES if rid.startswith("gap-")}

CONTRAINDICATED = Severity.CONTRAINDICATED
MAJOR = Severity.MAJOR
MODERATE = Severity.MODERATE
MINOR = Severity.MINOR


def item(name: str) -> Item:
    resolved = CATALOG.resolve(name)
    assert resolved is not None, f"{name!r} does not resolve"
    return Item(input=name, name=resolved.name, ingredients=resolved.ingredients)


def drug_drug(a: str, b: str) -> list[Finding]:
    return [f for f in check(KB, new=[item(a)], current=[item(b)]) if f.kind is Kind.DRUG_DRUG]


def summary(findings: list[Finding]) -> list[tuple[str, tuple[str, ...]]]:
    return [(f.severity.value, f.rules) for f in findings]


# (rule id, drug A, drug B, severity of the single drug-drug finding for the pair).
# The finding's severity is the highest of all matching rules, so where an older
# rule is more severe the expected severity is that one.
POSITIVE: list[tuple[str, str, str, Severity]] = [
    # sulfonylureas and meglitinides
    ("gap-repaglinide-gemfibrozil", "repaglinide", "Lopid", CONTRAINDICATED),
    ("gap-repaglinide-clopidogrel", "Prandin", "Plavix", MAJOR),
    ("gap-repaglinide-cyp2c8-cyp3a4", "repaglinide", "clarithromycin", MODERATE),
    ("gap-repaglinide-cyp2c8-cyp3a4", "repaglinide", "cyclosporine", MODERATE),
    ("gap-repaglinide-cyp2c8-cyp3a4", "repaglinide", "Bactrim", MODERATE),
    ("gap-meglitinide-inducer", "Starlix", "rifampin", MODERATE),
    ("gap-nateglinide-cyp2c9", "nateglinide", "fluconazole", MODERATE),
    ("gap-sulfonylurea-azole", "glipizide", "Diflucan", MODERATE),
    ("gap-sulfonylurea-cotrimoxazole", "glyburide", "Bactrim", MODERATE),
    ("gap-fluoroquinolone-antidiabetic", "Cipro", "glyburide", MODERATE),
    ("gap-fluoroquinolone-antidiabetic", "levofloxacin", "Lantus", MODERATE),
    ("gap-fluoroquinolone-antidiabetic", "moxifloxacin", "repaglinide", MODERATE),
    # opioid antagonists and partial agonists
    ("gap-opioid-antagonist-opioid", "naltrexone", "oxycodone", CONTRAINDICATED),
    ("gap-opioid-antagonist-opioid", "Vivitrol", "Suboxone", CONTRAINDICATED),
    ("gap-opioid-antagonist-opioid", "samidorphan", "morphine", CONTRAINDICATED),
    ("gap-opioid-antagonist-opioid", "Contrave", "hydrocodone", CONTRAINDICATED),
    ("gap-buprenorphine-full-agonist", "buprenorphine", "oxycodone", MAJOR),
    # carbapenems
    ("gap-carbapenem-valproate", "meropenem", "Depakote", MAJOR),
    ("gap-carbapenem-valproate", "ertapenem", "valproic acid", MAJOR),
    # hepatitis C
    ("gap-sofosbuvir-amiodarone", "Sovaldi", "amiodarone", MAJOR),
    ("gap-sofosbuvir-pgp-inducer", "sofosbuvir", "rifampin", MAJOR),
    # triptans
    ("gap-triptan-triptan", "sumatriptan", "rizatriptan", CONTRAINDICATED),
    ("gap-eletriptan-cyp3a4", "Relpax", "clarithromycin", CONTRAINDICATED),
    ("gap-rizatriptan-propranolol", "Maxalt", "propranolol", MODERATE),
    ("gap-zolmitriptan-cimetidine", "zolmitriptan", "Tagamet", MODERATE),
    # seizure threshold
    ("gap-bupropion-seizure-threshold", "Wellbutrin", "prednisone", MODERATE),
    ("gap-bupropion-seizure-threshold", "bupropion", "theophylline", MODERATE),
    ("gap-bupropion-seizure-threshold", "bupropion", "quetiapine", MODERATE),
    ("gap-bupropion-seizure-threshold", "bupropion", "tramadol", MODERATE),
    ("gap-tramadol-seizure-threshold", "tramadol", "haloperidol", MAJOR),  # opioid + CNS depressant
    ("gap-levofloxacin-theophylline", "levofloxacin", "theophylline", MINOR),
    ("gap-fluoroquinolone-nsaid", "Cipro", "ibuprofen", MINOR),
    # tendon rupture
    ("gap-fluoroquinolone-corticosteroid-tendon", "levofloxacin", "prednisone", MAJOR),
    ("gap-fluoroquinolone-corticosteroid-tendon", "Cipro", "dexamethasone", MAJOR),
    # anticholinergic burden
    ("gap-cholinesterase-inhibitor-anticholinergic", "Aricept", "oxybutynin", MODERATE),
    # warfarin and antibiotics
    ("gap-warfarin-tetracycline", "warfarin", "doxycycline", MODERATE),
    ("gap-warfarin-amoxicillin", "Coumadin", "amoxicillin", MODERATE),
    ("gap-warfarin-amoxicillin", "Augmentin", "warfarin", MODERATE),
    ("gap-warfarin-nafcillin-dicloxacillin", "warfarin", "dicloxacillin", MODERATE),
    ("gap-warfarin-tinidazole", "warfarin", "tinidazole", MODERATE),
    # CYP2D6
    ("gap-beta-blocker-cyp2d6-inhibitor", "metoprolol", "paroxetine", MODERATE),
    ("gap-beta-blocker-cyp2d6-inhibitor", "carvedilol", "bupropion", MODERATE),
    ("gap-beta-blocker-cyp2d6-inhibitor", "nebivolol", "fluoxetine", MODERATE),
    ("gap-cyp2d6-substrate-inhibitor", "Abilify", "fluoxetine", MODERATE),
    ("gap-cyp2d6-substrate-inhibitor", "atomoxetine", "paroxetine", MODERATE),
    ("gap-cyp2d6-substrate-inhibitor", "metoclopramide", "bupropion", MODERATE),
    ("gap-cyp2d6-substrate-inhibitor", "nortriptyline", "terbinafine", MODERATE),
    # FDA Drug Safety Communications and label contraindications
    ("gap-citalopram-cyp2c19-inhibitor", "Celexa", "omeprazole", MODERATE),
    ("gap-citalopram-cyp2c19-inhibitor", "citalopram", "cimetidine", MODERATE),
    ("gap-colchicine-cyp3a4-pgp", "colchicine", "erythromycin", MAJOR),
    ("gap-colchicine-cyp3a4-pgp", "colchicine", "fluconazole", MAJOR),
    ("gap-rosuvastatin-protease-inhibitor", "Crestor", "atazanavir", MODERATE),
    ("gap-simvastatin-ticagrelor", "simvastatin", "Brilinta", MODERATE),
    ("gap-ketoconazole-itraconazole-contraindicated", "itraconazole", "methadone", CONTRAINDICATED),
    ("gap-ketoconazole-itraconazole-contraindicated", "ketoconazole", "quinidine", CONTRAINDICATED),
    (
        "gap-ketoconazole-itraconazole-contraindicated",
        "itraconazole",
        "felodipine",
        CONTRAINDICATED,
    ),
    (
        "gap-ketoconazole-itraconazole-contraindicated",
        "itraconazole",
        "dofetilide",
        CONTRAINDICATED,
    ),
    ("gap-voriconazole-posaconazole-quinidine", "voriconazole", "quinidine", CONTRAINDICATED),
    ("gap-posaconazole-atorvastatin", "posaconazole", "Lipitor", CONTRAINDICATED),
    ("gap-voriconazole-inducer", "Vfend", "rifampin", CONTRAINDICATED),
    # opioids and CYP3A4
    ("gap-codeine-tramadol-strong-cyp3a4", "tramadol", "clarithromycin", MAJOR),
    ("gap-codeine-tramadol-strong-cyp3a4", "codeine", "ketoconazole", MAJOR),
    ("gap-opioid-moderate-cyp3a4", "oxycodone", "diltiazem", MAJOR),
    ("gap-opioid-moderate-cyp3a4", "fentanyl", "fluconazole", MAJOR),
    ("gap-opioid-cyp3a4-inducer", "methadone", "rifampin", MODERATE),
    ("gap-opioid-cyp3a4-inducer", "fentanyl", "rifampin", MODERATE),
    # lamotrigine
    ("gap-lamotrigine-estrogen-contraceptive", "Lamictal", "ethinyl estradiol", MODERATE),
    ("gap-lamotrigine-inducer", "lamotrigine", "carbamazepine", MODERATE),
    ("gap-lamotrigine-inducer", "lamotrigine", "rifampin", MODERATE),
]


@pytest.mark.parametrize(
    ("rule_id", "a", "b", "severity"),
    POSITIVE,
    ids=[f"{r}:{a}+{b}" for r, a, b, _ in POSITIVE],
)
def test_gap_rule_fires(rule_id: str, a: str, b: str, severity: Severity) -> None:
    rule = RULES[rule_id]
    assert rule.severity.rank >= severity.rank, "a pair cannot be less severe than its rule"
    for findings in (drug_drug(a, b), drug_drug(b, a)):
        assert len(findings) == 1, summary(findings)
        finding = findings[0]
        assert finding.severity == severity, summary(findings)
        assert rule_id in finding.rules, summary(findings)
        assert set(rule.sources) <= set(finding.sources)


def test_every_gap_rule_has_a_positive_case() -> None:
    covered = {rule_id for rule_id, _, _, _ in POSITIVE}
    assert sorted(GAP_RULES - covered) == [], "gap rules without a positive case"
    assert sorted(covered - GAP_RULES) == [], "cases for gap rules that do not exist"


# Pairs that must give no drug-drug finding at moderate or above: class members
# (or near neighbours) where the interaction is absent.
NEGATIVE: list[tuple[str, str]] = [
    # clopidogrel: only omeprazole and esomeprazole inhibit its activation
    ("pantoprazole", "clopidogrel"),
    # rosuvastatin and pravastatin are not CYP3A4 substrates
    ("rosuvastatin", "clarithromycin"),
    ("Pravachol", "itraconazole"),
    ("rosuvastatin", "posaconazole"),
    ("Crestor", "ritonavir"),
    ("pravastatin", "atazanavir"),
    # meglitinides and sulfonylureas
    ("repaglinide", "pantoprazole"),
    ("nateglinide", "gemfibrozil"),  # gemfibrozil barely changes nateglinide
    ("glipizide", "cephalexin"),
    ("glipizide", "azithromycin"),
    ("metformin", "ciprofloxacin"),  # metformin alone does not cause hypoglycaemia
    ("glimepiride", "metformin"),
    # beta blockers not cleared by CYP2D6; sertraline is not a strong inhibitor
    ("atenolol", "fluoxetine"),
    ("bisoprolol", "paroxetine"),
    ("metoprolol", "sertraline"),
    ("rizatriptan", "metoprolol"),  # only propranolol raises rizatriptan
    # naloxone as rescue is not an antagonist rule
    ("naloxone", "oxycodone"),
    ("Narcan", "morphine"),
    # not carbapenems, not sofosbuvir partners
    ("meropenem", "levetiracetam"),
    ("cefepime", "valproate"),
    ("sofosbuvir", "metoprolol"),
    # triptans
    ("sumatriptan", "naproxen"),
    ("Relpax", "azithromycin"),
    # warfarin: cephalexin and nitrofurantoin have no interaction
    ("warfarin", "cephalexin"),
    ("warfarin", "nitrofurantoin"),
    ("warfarin", "metoprolol"),
    # citalopram: pantoprazole; escitalopram carries no CYP2C19 dose cap
    ("citalopram", "pantoprazole"),
    ("escitalopram", "omeprazole"),
    # colchicine: azithromycin and amlodipine are not listed inhibitors
    ("colchicine", "azithromycin"),
    ("colchicine", "amlodipine"),
    ("simvastatin", "prasugrel"),
    # seizure threshold: bupropion with SSRIs is a common, label-accepted augmentation
    ("bupropion", "sertraline"),
    ("bupropion", "escitalopram"),
    ("amoxicillin", "prednisone"),
    # inhaled antimuscarinics are not in the Beers list
    ("oxybutynin", "tiotropium"),
    ("donepezil", "mirabegron"),
    # lamotrigine: levetiracetam and oral estradiol (not ethinyl estradiol)
    ("lamotrigine", "levetiracetam"),
    ("lamotrigine", "estradiol"),
    # opioids not cleared by CYP3A4, and non-inhibiting antibiotics
    ("morphine", "rifampin"),
    ("hydromorphone", "clarithromycin"),
    ("oxycodone", "azithromycin"),
    ("tramadol", "cephalexin"),
]


@pytest.mark.parametrize(("a", "b"), NEGATIVE, ids=[f"{a}+{b}" for a, b in NEGATIVE])
def test_no_false_alert_at_moderate_or_above(a: str, b: str) -> None:
    for findings in (drug_drug(a, b), drug_drug(b, a)):
        assert [f for f in findings if f.severity.at_least(MODERATE)] == [], summary(findings)


def test_pantoprazole_and_clopidogrel_give_no_drug_drug_finding() -> None:
    assert drug_drug("Protonix", "Plavix") == []


def test_every_strong_anticholinergic_is_in_the_catalog() -> None:
    members = [d.id for d in CATALOG.drugs.values() if "strong-anticholinergic" in d.classes]
    assert {"oxybutynin", "diphenhydramine", "amitriptyline", "paroxetine", "benztropine"} <= set(
        members
    )
    # inhaled antimuscarinics and the less anticholinergic antipsychotics are not members
    assert not {"tiotropium", "ipratropium", "quetiapine", "risperidone"} & set(members)


def test_gap_rules_cite_known_sources() -> None:
    for rid in GAP_RULES:
        assert RULES[rid].sources
        assert set(RULES[rid].sources) <= set(CATALOG.sources)
