"""Interaction checking against the shipped knowledge base (docs/clinical.md,
"Interaction checking")."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.interactions import (
    Finding,
    ImportedRule,
    Item,
    Kind,
    Patient,
    check,
    resolve_allergy,
)
from service.domain.severity import Severity
from service.knowledge import load
from tests.unit.test_kb_beers import TABLE_5 as BEERS_TABLE_5
from tests.unit.test_kb_conditions import OTC_POSITIVE
from tests.unit.test_kb_gaps import POSITIVE as GAP_POSITIVE
from tests.unit.test_kb_labels import LABEL_POSITIVE

KB = load()
CATALOG = KB.catalog
RULES = {r.id: r for r in KB.pair_rules}

CONTRAINDICATED = Severity.CONTRAINDICATED
MAJOR = Severity.MAJOR
MODERATE = Severity.MODERATE
MINOR = Severity.MINOR


def item(name: str) -> Item:
    resolved = CATALOG.resolve(name)
    assert resolved is not None, f"{name!r} does not resolve"
    return Item(input=name, name=resolved.name, ingredients=resolved.ingredients)


def pair(new: str, current: str, imported: Iterable[ImportedRule] = ()) -> list[Finding]:
    return check(KB, new=[item(new)], current=[item(current)], imported=imported)


def of_kind(findings: Iterable[Finding], kind: Kind) -> list[Finding]:
    return [f for f in findings if f.kind is kind]


def at_least(findings: Iterable[Finding], severity: Severity) -> list[Finding]:
    return [f for f in findings if f.severity.at_least(severity)]


def keys(findings: Iterable[Finding]) -> set[tuple[str, Kind, Severity]]:
    return {(f.id, f.kind, f.severity) for f in findings}


def summary(findings: Iterable[Finding]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(f.kind.value, f.severity.value, f.rules) for f in findings]


# --- every curated drug-drug rule -------------------------------------------------
# (rule id, drug A, drug B): a pair where the rule is the most severe match, so the
# single drug-drug finding carries the rule's severity. Brand names are used where
# a clinician would type one.
POSITIVE: list[tuple[str, str, str]] = [
    # QT prolongation
    ("qt-qt", "Betapace", "amiodarone"),
    ("qt-qt", "citalopram", "Zithromax"),
    ("thioridazine-qt", "Mellaril", "Wellbutrin"),
    ("thioridazine-qt", "thioridazine", "propranolol"),
    ("pimozide-qt-cyp3a4", "Orap", "itraconazole"),
    ("pimozide-qt-cyp3a4", "pimozide", "Zoloft"),
    ("cisapride-qt-cyp3a4", "cisapride", "Cardizem"),
    ("dronedarone-qt-cyp3a4", "Multaq", "voriconazole"),
    ("ziprasidone-antiarrhythmic", "Geodon", "tacrolimus"),
    ("dofetilide-contraindicated", "Tikosyn", "hydrochlorothiazide"),
    ("dofetilide-contraindicated", "dofetilide", "Tagamet"),
    # anticoagulants and antiplatelets
    ("anticoagulant-nsaid", "Coumadin", "Advil"),
    ("anticoagulant-nsaid", "Eliquis", "naproxen"),
    ("anticoagulant-antiplatelet", "apixaban", "Plavix"),
    ("anticoagulant-antiplatelet", "warfarin", "aspirin"),
    ("anticoagulant-anticoagulant", "warfarin", "Xarelto"),
    ("warfarin-cyp2c9-inhibitor", "warfarin", "Flagyl"),
    ("warfarin-cyp2c9-inhibitor", "Jantoven", "Bactrim"),
    ("anticoagulant-cyp3a4-inhibitor", "Xarelto", "itraconazole"),
    ("anticoagulant-cyp3a4-inducer", "Eliquis", "rifampin"),
    ("dabigatran-edoxaban-pgp-inducer", "Pradaxa", "Tegretol"),
    ("dabigatran-edoxaban-pgp-inhibitor", "Savaysa", "dronedarone"),
    ("anticoagulant-serotonergic-antidepressant", "Eliquis", "Zoloft"),
    ("anticoagulant-serotonergic-antidepressant", "Xarelto", "Effexor XR"),
    ("warfarin-antibiotic", "warfarin", "Zithromax"),
    ("warfarin-acetaminophen", "Coumadin", "Tylenol"),
    ("antiplatelet-nsaid", "Plavix", "naproxen"),
    ("antiplatelet-nsaid", "aspirin", "ibuprofen"),
    ("warfarin-thyroid-hormone", "Coumadin", "Synthroid"),
    ("warfarin-thyroid-hormone", "warfarin", "liothyronine"),
    ("antidepressant-antiplatelet", "Zoloft", "aspirin"),
    ("antidepressant-antiplatelet", "Lexapro", "Plavix"),
    ("antidepressant-antiplatelet", "venlafaxine", "ticagrelor"),
    ("statin-fibrate", "Lipitor", "fenofibrate"),
    ("statin-colchicine", "atorvastatin", "Colcrys"),
    ("clonidine-beta-blocker", "Catapres", "propranolol"),
    ("beta-blocker-nondihydropyridine", "Lopressor", "verapamil"),
    ("beta-blocker-nondihydropyridine", "atenolol", "Cardizem"),
    ("clopidogrel-ppi", "Plavix", "Prilosec"),
    ("ticagrelor-cyp3a4", "Brilinta", "rifampin"),
    # statins
    ("statin-cyp3a4-contraindicated", "Zocor", "clarithromycin"),
    ("statin-cyp3a4-contraindicated", "lovastatin", "itraconazole"),
    ("statin-cyp3a4-contraindicated", "simvastatin", "gemfibrozil"),
    ("statin-cyp3a4-dose-limit", "simvastatin", "diltiazem"),
    ("statin-cyp3a4-dose-limit", "Zocor", "amiodarone"),
    ("simvastatin-amlodipine", "lovastatin", "Norvasc"),
    ("atorvastatin-cyp3a4", "Lipitor", "gemfibrozil"),
    ("atorvastatin-cyp3a4", "atorvastatin", "clarithromycin"),
    ("statin-gemfibrozil", "Crestor", "Lopid"),
    ("statin-cyclosporine", "pravastatin", "Neoral"),
    ("pitavastatin-cyclosporine", "Livalo", "cyclosporine"),
    ("pravastatin-macrolide", "Pravachol", "Biaxin"),
    ("colchicine-cyp3a4-pgp", "Colcrys", "verapamil"),
    # PDE5, nitrates, riociguat
    ("pde5-nitrate", "Viagra", "Imdur"),
    ("pde5-nitrate", "tadalafil", "nitroglycerin"),
    ("sgc-nitrate-pde5", "Adempas", "Cialis"),
    ("sgc-nitrate-pde5", "riociguat", "isosorbide dinitrate"),
    ("pde5-cyp3a4-inhibitor", "sildenafil", "ketoconazole"),
    ("pde5-alpha-blocker", "tadalafil", "Flomax"),
    # lithium
    ("lithium-nsaid", "lithium carbonate", "ibuprofen"),
    ("lithium-raas", "Lithobid", "lisinopril"),
    ("lithium-raas", "lithium", "Cozaar"),
    ("lithium-thiazide", "lithium", "HCTZ"),
    ("lithium-loop-diuretic", "lithium", "Lasix"),
    # potassium, RAAS
    ("potassium-sparing-raas", "Aldactone", "lisinopril"),
    ("potassium-supplement-raas", "Klor-Con", "losartan"),
    ("potassium-supplement-potassium-sparing", "potassium chloride", "spironolactone"),
    ("potassium-supplement-potassium-sparing-contraindicated", "potassium citrate", "amiloride"),
    ("potassium-supplement-potassium-sparing-contraindicated", "Klor-Con", "Inspra"),
    ("trimethoprim-potassium-sparing", "trimethoprim", "spironolactone"),
    ("trimethoprim-raas", "trimethoprim", "Zestril"),
    ("aliskiren-raas", "Tekturna", "valsartan"),
    ("ace-arb-dual-blockade", "lisinopril", "Cozaar"),
    ("sacubitril-ace-inhibitor", "Entresto", "enalapril"),
    ("eplerenone-cyp3a4", "Inspra", "clarithromycin"),
    ("digoxin-pgp-inhibitor", "Lanoxin", "amiodarone"),
    ("digoxin-pgp-inhibitor", "digoxin", "verapamil"),
    ("ace-inhibitor-nsaid", "lisinopril", "Motrin"),
    ("ace-inhibitor-nsaid", "losartan", "celecoxib"),
    # CNS depression
    ("opioid-benzodiazepine", "oxycodone", "Xanax"),
    ("opioid-benzodiazepine", "Percocet", "Valium"),
    ("opioid-cns-depressant", "morphine", "Flexeril"),
    ("opioid-cns-depressant", "hydrocodone", "Ambien"),
    ("gabapentinoid-opioid", "Neurontin", "hydrocodone"),
    ("gabapentinoid-opioid", "Lyrica", "Percocet"),
    ("cns-depressant-combination", "Ambien", "Valium"),
    ("cns-depressant-combination", "gabapentin", "cyclobenzaprine"),
    ("cns-depressant-antidepressant", "Lexapro", "Valium"),
    ("cns-depressant-antidepressant", "escitalopram", "diazepam"),
    # serotonin and MAO inhibition
    ("maoi-serotonergic", "Zyvox", "Zoloft"),
    ("maoi-serotonergic", "phenelzine", "sumatriptan"),
    ("maoi-serotonergic", "methylene blue", "Lexapro"),
    ("maoi-opioid-serotonergic", "Nardil", "Demerol"),
    ("maoi-opioid-serotonergic", "selegiline", "dextromethorphan"),
    ("maoi-maoi", "phenelzine", "selegiline"),
    ("maoi-sympathomimetic", "Parnate", "Sudafed"),
    ("maoi-sympathomimetic", "rasagiline", "pseudoephedrine"),
    ("linezolid-sympathomimetic", "linezolid", "Ritalin"),
    ("maoi-bupropion", "Emsam", "Wellbutrin"),
    ("maoi-carbamazepine", "Marplan", "Tegretol"),
    ("maoi-levodopa", "Nardil", "Sinemet"),
    ("maoi-weak-serotonergic", "tranylcypromine", "buspirone"),
    ("serotonergic-serotonergic", "Ultram", "Zoloft"),
    ("serotonergic-serotonergic", "sumatriptan", "fluoxetine"),
    ("serotonergic-weak-serotonergic", "lithium", "Zoloft"),
    # CYP-mediated CNS pairs
    ("opioid-cyp3a4-inhibitor", "OxyContin", "clarithromycin"),
    ("opioid-cyp2d6-inhibitor", "hydrocodone", "Wellbutrin"),
    ("opioid-cyp2d6-inhibitor", "tramadol", "quinidine"),
    ("benzodiazepine-cyp3a4-inhibitor", "Halcion", "ketoconazole"),
    ("benzodiazepine-cyp3a4-inhibitor", "midazolam", "clarithromycin"),
    ("alprazolam-cyp3a4-inhibitor", "alprazolam", "clarithromycin"),
    ("alprazolam-azole", "Xanax", "itraconazole"),
    ("maoi-opioid", "phenelzine", "oxycodone"),
    ("ramelteon-ciprofloxacin", "Rozerem", "Cipro"),
    ("tizanidine-weak-cyp1a2", "tizanidine", "levofloxacin"),
    ("booster-contraindicated", "Paxlovid", "amiodarone"),
    ("ketorolac-nsaid", "ketorolac", "aspirin"),
    ("warfarin-fibrate-tamoxifen", "warfarin", "fenofibrate"),
    ("antidepressant-nsaid", "Zoloft", "ibuprofen"),
    ("vericiguat-pde5", "vericiguat", "sildenafil"),
    ("booster-cyp3a4-cardiac", "clarithromycin", "ranolazine"),
    ("methotrexate-acitretin", "methotrexate", "Soriatane"),
    ("methotrexate-clearance-major", "Trexall", "probenecid"),
    ("methotrexate-clearance-moderate", "methotrexate", "amoxicillin"),
    ("valproate-lamotrigine", "Depakote", "Lamictal"),
    ("phenytoin-cyp2c9-inhibitor", "Dilantin", "fluconazole"),
    ("potassium-chloride-antimuscarinic", "Klor-Con", "oxybutynin"),
    ("ramelteon-fluvoxamine", "Rozerem", "Luvox"),
    ("clozapine-cyp1a2-inhibitor", "Clozaril", "Cipro"),
    ("duloxetine-cyp1a2-inhibitor", "Cymbalta", "ciprofloxacin"),
    ("quetiapine-cyp3a4", "Seroquel", "itraconazole"),
    ("lurasidone-cyp3a4", "Latuda", "rifampin"),
    ("lurasidone-cyp3a4", "lurasidone", "clarithromycin"),
    ("carbamazepine-cyp3a4-inhibitor", "carbamazepine", "Biaxin"),
    ("tizanidine-cyp1a2-inhibitor", "Zanaflex", "ciprofloxacin"),
    ("tizanidine-cyp1a2-inhibitor", "tizanidine", "fluvoxamine"),
    ("ergot-triptan", "ergotamine", "Imitrex"),
    # anti-infectives, immunology, oncology, others
    ("methotrexate-trimethoprim", "methotrexate", "Bactrim"),
    ("methotrexate-trimethoprim", "Trexall", "trimethoprim"),
    ("methotrexate-nsaid", "Trexall", "naproxen"),
    ("methotrexate-ppi", "methotrexate", "omeprazole"),
    ("xanthine-oxidase-thiopurine", "Zyloprim", "Imuran"),
    ("febuxostat-thiopurine", "Uloric", "mercaptopurine"),
    ("atazanavir-ppi", "Reyataz", "Nexium"),
    ("rifampin-protease-inhibitor", "rifampin", "Paxlovid"),
    ("rifampin-protease-inhibitor", "Rifadin", "darunavir"),
    ("irinotecan-cyp3a4", "Camptosar", "phenytoin"),
    ("ergot-cyp3a4-inhibitor", "dihydroergotamine", "clarithromycin"),
    ("theophylline-cyp1a2-inhibitor", "theophylline", "fluvoxamine"),
    ("calcineurin-cyp3a4", "Prograf", "rifampin"),
    ("calcineurin-cyp3a4", "cyclosporine", "ketoconazole"),
    ("contraceptive-inducer", "Yaz", "carbamazepine"),
    ("tamoxifen-cyp2d6-inhibitor", "Nolvadex", "Paxil"),
    ("chelation-quinolone-tetracycline", "doxycycline", "Tums"),
    ("chelation-quinolone-tetracycline", "Cipro", "ferrous sulfate"),
    ("levothyroxine-chelation", "Synthroid", "ferrous sulfate"),
]


@pytest.mark.parametrize(
    ("rule_id", "a", "b"), POSITIVE, ids=[f"{r}:{a}+{b}" for r, a, b in POSITIVE]
)
def test_each_drug_drug_rule_fires_at_its_own_severity(rule_id: str, a: str, b: str) -> None:
    rule = RULES[rule_id]
    for findings in (pair(a, b), pair(b, a), check(KB, new=[item(a), item(b)])):
        ddi = of_kind(findings, Kind.DRUG_DRUG)
        assert len(ddi) == 1, summary(findings)
        finding = ddi[0]
        assert finding.severity == rule.severity, summary(findings)
        assert rule_id in finding.rules
        assert set(rule.sources) <= set(finding.sources)
        assert {d.input for d in finding.drugs} == {a, b}


def test_every_drug_drug_rule_has_a_positive_case() -> None:
    covered = {rule_id for rule_id, _, _ in POSITIVE}
    covered |= {rule_id for rule_id, _, _, _ in GAP_POSITIVE}
    covered |= {rule_id for rule_id, _, _ in LABEL_POSITIVE + OTC_POSITIVE}
    covered |= {rule_id for _, _, _, rule_id in BEERS_TABLE_5}
    assert sorted(set(RULES) - covered) == [], "rules without a positive test case"
    assert sorted(covered - set(RULES)) == [], "test cases for rules that do not exist"


# --- pairs that must not reach a severity ---------------------------------------------
# (drug A, drug B, the most severe finding allowed; None: no finding at all)
NEGATIVE: list[tuple[str, str, Severity | None]] = [
    # pravastatin and rosuvastatin are not CYP3A4 substrates
    ("pravastatin", "clarithromycin", MINOR),
    ("Pravachol", "itraconazole", MINOR),
    ("rosuvastatin", "clarithromycin", MINOR),
    ("Crestor", "ketoconazole", MINOR),
    ("fenofibrate", "rosuvastatin", MINOR),
    # azithromycin is not a CYP3A4 inhibitor
    ("simvastatin", "azithromycin", MINOR),
    # amlodipine limits the simvastatin dose only: nothing with atorvastatin
    ("amlodipine", "atorvastatin", None),
    ("simvastatin", "Norvasc", MODERATE),
    # lorazepam and temazepam are glucuronidated, not CYP3A4 substrates
    ("lorazepam", "clarithromycin", MINOR),
    ("temazepam", "ketoconazole", MINOR),
    # unrelated
    ("diazepam", "amoxicillin", None),
    ("lithium", "amlodipine", None),
    ("warfarin", "cephalexin", None),
    ("Keppra", "warfarin", None),
    ("Eliquis", "Zyrtec", None),
    # selective MAO-B inhibitors are used with levodopa
    ("selegiline", "levodopa", MAJOR),
    ("rasagiline", "Sinemet", MAJOR),
    ("Azilect", "carbidopa/levodopa", MAJOR),
    # linezolid with a sympathomimetic is major, not contraindicated
    ("linezolid", "Sudafed", MAJOR),
    # aspirin + clopidogrel is standard dual antiplatelet therapy
    ("aspirin", "clopidogrel", MINOR),
    ("Plavix", "Bayer", MINOR),
    # pantoprazole is the recommended PPI with clopidogrel; H2 blockers with atazanavir
    ("pantoprazole", "clopidogrel", MINOR),
    ("famotidine", "atazanavir", MINOR),
    # tamoxifen: sertraline and venlafaxine are not strong CYP2D6 inhibitors
    ("venlafaxine", "tamoxifen", MINOR),
    ("sertraline", "tamoxifen", MINOR),
    # no nitrate: nothing with a PDE5 inhibitor beyond the alpha-blocker note
    ("sildenafil", "amlodipine", MINOR),
    ("Viagra", "Flomax", MODERATE),
    # escitalopram + diazepam is moderate (docs/clinical.md), not more
    ("Lexapro", "Valium", MODERATE),
    # a loop diuretic with lithium is moderate, a thiazide major
    ("lithium", "furosemide", MODERATE),
    # ciprofloxacin and clozapine are CYP1A2 matters; levofloxacin is not an inhibitor
    ("vericiguat", "nitroglycerin", None),
    ("levofloxacin", "theophylline", MINOR),
]


@pytest.mark.parametrize(("a", "b", "worst"), NEGATIVE, ids=[f"{a}+{b}" for a, b, _ in NEGATIVE])
def test_pairs_that_must_stay_below_a_severity(a: str, b: str, worst: Severity | None) -> None:
    for findings in (pair(a, b), pair(b, a)):
        if worst is None:
            assert findings == [], summary(findings)
        else:
            too_severe = [f for f in findings if f.severity.rank < worst.rank]
            assert too_severe == [], summary(findings)


def test_pravastatin_clarithromycin_is_only_the_minor_dose_note() -> None:
    findings = pair("pravastatin", "clarithromycin")
    assert summary(findings) == [("drug-drug", "minor", ("pravastatin-macrolide",))]


# --- commonly co-prescribed pairs ---------------------------------------------------
HARMLESS: list[tuple[str, str]] = [
    ("lisinopril", "metformin"),
    ("atorvastatin", "lisinopril"),
    ("metformin", "glipizide"),
    ("levothyroxine", "metformin"),
    ("albuterol", "fluticasone"),
    ("losartan", "hydrochlorothiazide"),
    ("acetaminophen", "ibuprofen"),
    ("amlodipine", "lisinopril"),
    ("metoprolol", "lisinopril"),
    ("aspirin", "atorvastatin"),
    ("Lipitor", "Prilosec"),
    ("Januvia", "Glucophage"),
    ("Jardiance", "metformin"),
    ("Singulair", "Flovent HFA"),
    ("ProAir HFA", "Singulair"),
    ("Spiriva", "albuterol"),
    ("Flomax", "Proscar"),
    ("Fosamax", "cholecalciferol"),
    ("Synthroid", "Lipitor"),
    ("amoxicillin", "acetaminophen"),
    ("Zyrtec", "Flonase"),
    ("Lantus", "metformin"),
    ("Humalog", "Lantus"),
    ("pantoprazole", "aspirin"),
    ("Lasix", "Coreg"),
    ("Zetia", "Crestor"),
    ("Plavix", "Lipitor"),
    ("levothyroxine", "sertraline"),
    ("famotidine", "ibuprofen"),
    ("Colace", "Senokot"),
    ("Aricept", "Namenda"),
    ("Ozempic", "metformin"),
    ("Diovan", "Norvasc"),
    ("Eliquis", "metoprolol"),
    ("Zoloft", "Tylenol"),
    ("allopurinol", "colchicine"),
    ("prednisone", "albuterol"),
    ("Estrace", "Synthroid"),
    ("metoprolol", "amlodipine"),
    ("Lipitor", "fenofibrate"),
    ("prednisone", "Tylenol"),
    ("warfarin", "metoprolol"),
]


@pytest.mark.parametrize(("a", "b"), HARMLESS, ids=[f"{a}+{b}" for a, b in HARMLESS])
def test_common_harmless_pairs_raise_nothing_at_moderate_or_above(a: str, b: str) -> None:
    findings = pair(a, b)
    assert at_least(findings, MODERATE) == [], summary(findings)


def test_the_harmless_list_is_long_enough() -> None:
    assert len(set(HARMLESS)) >= 25


# --- order independence (property-based) ---------------------------------------------
ALL_NAMES = sorted({name for _, names in CATALOG.entry_names() for name in names})
INTERACTING = sorted({name for _, a, b in POSITIVE for name in (a, b)})
NAME = st.one_of(st.sampled_from(INTERACTING), st.sampled_from(ALL_NAMES))


@settings(max_examples=100, deadline=None)
@given(names=st.lists(NAME, min_size=2, max_size=6), data=st.data())
def test_findings_do_not_depend_on_the_order_of_the_new_drugs(
    names: list[str], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(names))
    patient = Patient(
        pregnant=True,
        allergies=(resolve_allergy(KB, "penicillins"), resolve_allergy(KB, "codeine")),
    )
    first = check(KB, new=[item(n) for n in names], patient=patient)
    second = check(KB, new=[item(n) for n in shuffled], patient=patient)
    assert keys(first) == keys(second)
    ranks = [f.severity.rank for f in first]
    assert ranks == sorted(ranks), "most severe first"


@settings(max_examples=100, deadline=None)
@given(a=NAME, b=NAME)
def test_a_pair_is_checked_the_same_whichever_side_is_new(a: str, b: str) -> None:
    a_new = check(KB, new=[item(a)], current=[item(b)])
    b_new = check(KB, new=[item(b)], current=[item(a)])
    both_new = check(KB, new=[item(a), item(b)])
    assert keys(a_new) == keys(b_new) == keys(both_new)
    for findings in (a_new, b_new):
        per_kind = [f.kind for f in findings]
        assert len(per_kind) == len(set(per_kind)), "one finding per kind for one pair"


# --- one finding per pair and kind -----------------------------------------------------
def test_several_matching_rules_give_one_finding_at_the_highest_severity() -> None:
    findings = pair("oxycodone", "Xanax")
    assert len(findings) == 1, summary(findings)
    finding = findings[0]
    assert finding.kind is Kind.DRUG_DRUG
    assert finding.severity is MAJOR
    assert {"opioid-benzodiazepine", "opioid-cns-depressant"} <= set(finding.rules)
    assert finding.rule in {"opioid-benzodiazepine", "opioid-cns-depressant"}
    assert finding.rules[0] == finding.rule
    # every matching rule's sources, each once, including a lower-severity rule's
    merged = {s for rule_id in finding.rules for s in RULES[rule_id].sources}
    assert set(finding.sources) == merged
    assert len(finding.sources) == len(set(finding.sources))
    assert "fda-2016-opioid-benzodiazepine" in finding.sources
    assert "ags-beers-2023" in finding.sources  # from cns-depressant-combination (moderate)
    assert {"opioid", "benzodiazepine"} <= set(finding.classes)
    # the texts are the top rule's
    top = RULES[finding.rule]
    assert (finding.effect, finding.management) == (top.effect, top.management)


def test_rules_matched_through_different_ingredients_of_a_product_merge() -> None:
    # Entresto = sacubitril + valsartan: sacubitril + ACE inhibitor (contraindicated,
    # fda-label) and ACE inhibitor + ARB (major, ontarget-2008) are one finding.
    findings = of_kind(pair("Entresto", "enalapril"), Kind.DRUG_DRUG)
    assert len(findings) == 1
    finding = findings[0]
    assert finding.severity is CONTRAINDICATED
    assert finding.rule == "sacubitril-ace-inhibitor"
    assert set(finding.rules) == {"sacubitril-ace-inhibitor", "ace-arb-dual-blockade"}
    assert {"fda-label", "ontarget-2008"} <= set(finding.sources)


def test_a_combination_product_matching_one_rule_twice_gives_one_finding() -> None:
    # Yaz = drospirenone + ethinyl estradiol, both named by contraceptive-inducer.
    findings = pair("Yaz", "carbamazepine")
    assert summary(findings) == [("drug-drug", "major", ("contraceptive-inducer",))]


# --- duplicate therapy -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "severity", "rule"),
    [
        ("Percocet", "Tylenol", MAJOR, "same-ingredient"),
        ("acetaminophen", "Tylenol PM", MAJOR, "same-ingredient"),
        ("Lexapro", "escitalopram", MAJOR, "same-ingredient"),
        ("Zoloft", "Prozac", MODERATE, "duplicate-ssri"),
        ("Valium", "Ativan", MODERATE, "duplicate-benzodiazepine"),
        ("ibuprofen", "naproxen", MODERATE, "duplicate-nsaid"),
        ("lisinopril", "losartan", MAJOR, "duplicate-raas-blocker"),
        ("warfarin", "Eliquis", MAJOR, "duplicate-anticoagulant"),
        ("Prilosec", "Protonix", MODERATE, "duplicate-ppi"),
    ],
)
def test_duplicate_therapy(a: str, b: str, severity: Severity, rule: str) -> None:
    duplicates = of_kind(pair(a, b), Kind.DUPLICATE)
    assert len(duplicates) == 1
    assert duplicates[0].severity is severity
    assert rule in duplicates[0].rules


def test_same_ingredient_in_two_products_is_the_only_finding() -> None:
    findings = pair("Percocet", "Tylenol")
    assert summary(findings) == [("duplicate-therapy", "major", ("same-ingredient",))]
    assert "acetaminophen" in findings[0].mechanism


def test_two_ssris_give_a_duplicate_and_a_drug_drug_finding() -> None:
    findings = pair("sertraline", "fluoxetine")
    assert sorted(f.kind.value for f in findings) == ["drug-drug", "duplicate-therapy"]
    (duplicate,) = of_kind(findings, Kind.DUPLICATE)
    assert (duplicate.severity, duplicate.rule, duplicate.classes) == (
        MODERATE,
        "duplicate-ssri",
        ("ssri",),
    )
    (ddi,) = of_kind(findings, Kind.DRUG_DRUG)
    assert (ddi.severity, ddi.rule) == (MAJOR, "serotonergic-serotonergic")


def test_ace_inhibitor_with_arb_is_a_major_raas_duplicate_and_a_drug_drug_finding() -> None:
    findings = pair("lisinopril", "losartan")
    assert sorted(f.kind.value for f in findings) == ["drug-drug", "duplicate-therapy"]
    (duplicate,) = of_kind(findings, Kind.DUPLICATE)
    assert duplicate.severity is MAJOR
    assert duplicate.rule == "duplicate-raas-blocker"
    assert "raas-blocker" in duplicate.classes
    (ddi,) = of_kind(findings, Kind.DRUG_DRUG)
    assert (ddi.severity, ddi.rule) == (MAJOR, "ace-arb-dual-blockade")
    assert ddi.id != duplicate.id


# --- allergy -------------------------------------------------------------------------------
def with_allergy(allergy: str, drug: str) -> list[Finding]:
    patient = Patient(allergies=(resolve_allergy(KB, allergy),))
    return check(KB, new=[item(drug)], patient=patient)


@pytest.mark.parametrize(
    ("allergy", "drug", "severity", "rule"),
    [
        ("amoxicillin", "amoxicillin", CONTRAINDICATED, "allergy-ingredient"),
        ("amoxicillin", "Augmentin", CONTRAINDICATED, "allergy-ingredient"),
        ("codeine", "Tylenol with Codeine", CONTRAINDICATED, "allergy-ingredient"),
        ("Amoxil", "amoxicillin", CONTRAINDICATED, "allergy-ingredient"),
        ("amoxicillin", "penicillin V", MAJOR, "allergy-class"),
        ("penicillins", "amoxicillin", MAJOR, "allergy-class"),
        ("PCN", "Augmentin", MAJOR, "allergy-class"),
        ("codeine", "morphine", MAJOR, "allergy-class"),
        ("sulfa", "Bactrim", MAJOR, "allergy-class"),
        ("NSAIDs", "naproxen", MAJOR, "allergy-class"),
        ("penicillin", "cephalexin", MINOR, "penicillin-cephalosporin"),
        ("amoxicillin", "Keflex", MINOR, "penicillin-cephalosporin"),
        ("cephalexin", "amoxicillin", MINOR, "cephalosporin-penicillin"),
        ("penicillin", "meropenem", MINOR, "beta-lactam-carbapenem"),
        ("sulfa", "hydrochlorothiazide", MINOR, "sulfonamide-nonantibiotic"),
        ("sulfa", "Lasix", MINOR, "sulfonamide-nonantibiotic"),
        ("NSAIDs", "aspirin", MINOR, "nsaid-cross-reactivity"),
        ("lisinopril", "losartan", MINOR, "ace-inhibitor-arb-angioedema"),
    ],
)
def test_allergy(allergy: str, drug: str, severity: Severity, rule: str) -> None:
    findings = with_allergy(allergy, drug)
    assert len(findings) == 1, summary(findings)
    finding = findings[0]
    assert finding.kind is Kind.ALLERGY
    assert finding.severity is severity
    assert finding.rule == rule
    assert finding.allergy == allergy
    assert finding.sources


@pytest.mark.parametrize(
    ("allergy", "drug"),
    [
        ("amoxicillin", "lisinopril"),
        ("amoxicillin", "azithromycin"),
        ("penicillins", "doxycycline"),
        ("sulfa", "amoxicillin"),
        ("codeine", "acetaminophen"),
        ("NSAIDs", "acetaminophen"),
        ("bee stings", "amoxicillin"),
        ("latex", "Percocet"),
    ],
)
def test_no_allergy_finding_for_unrelated_drugs(allergy: str, drug: str) -> None:
    assert with_allergy(allergy, drug) == []


def test_an_ingredient_allergy_with_a_class_match_merges_into_one_finding() -> None:
    findings = with_allergy("ibuprofen", "naproxen")
    assert len(findings) == 1
    assert findings[0].severity is MAJOR
    assert set(findings[0].rules) == {"allergy-class", "nsaid-cross-reactivity"}


def test_allergy_is_checked_for_new_drugs_only() -> None:
    patient = Patient(allergies=(resolve_allergy(KB, "penicillins"),))
    findings = check(KB, new=[item("lisinopril")], current=[item("amoxicillin")], patient=patient)
    assert of_kind(findings, Kind.ALLERGY) == []


# --- pregnancy ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("drug", "severity", "rule"),
    [
        ("lisinopril", CONTRAINDICATED, "pregnancy-raas"),
        ("Zestoretic", CONTRAINDICATED, "pregnancy-raas"),
        ("losartan", CONTRAINDICATED, "pregnancy-raas"),
        ("Coumadin", CONTRAINDICATED, "pregnancy-warfarin"),
        ("isotretinoin", CONTRAINDICATED, "pregnancy-teratogen-contraindicated"),
        ("ibuprofen", MAJOR, "pregnancy-nsaid"),
        ("Depakote", MAJOR, "pregnancy-antiepileptic"),
        ("atorvastatin", MAJOR, "pregnancy-statin"),
        ("Valium", MODERATE, "pregnancy-opioid-benzodiazepine"),
    ],
)
def test_pregnancy(drug: str, severity: Severity, rule: str) -> None:
    findings = check(KB, new=[item(drug)], patient=Patient(pregnant=True))
    assert len(findings) == 1, summary(findings)
    finding = findings[0]
    assert finding.kind is Kind.CONDITION
    assert finding.condition == "pregnancy"
    assert (finding.severity, finding.rule) == (severity, rule)


@pytest.mark.parametrize("drug", ["acetaminophen", "amoxicillin", "levothyroxine", "Zyrtec"])
def test_drugs_usable_in_pregnancy_raise_nothing(drug: str) -> None:
    assert check(KB, new=[item(drug)], patient=Patient(pregnant=True)) == []


@pytest.mark.parametrize("drug", ["lisinopril", "ibuprofen", "warfarin", "isotretinoin"])
def test_no_pregnancy_finding_when_not_pregnant(drug: str) -> None:
    assert check(KB, new=[item(drug)], patient=Patient(pregnant=False)) == []
    assert check(KB, new=[item(drug)]) == []


# --- imported rules ---------------------------------------------------------------------------
def imported(a: str, b: str, severity: Severity) -> ImportedRule:
    return ImportedRule(
        a=a, b=b, severity=severity, mechanism="", management="", sources=("ddinter-test",)
    )


def test_imported_rule_above_the_curated_one_raises_the_severity_and_merges_sources() -> None:
    curated = RULES["anticoagulant-serotonergic-antidepressant"]
    assert curated.severity is MODERATE
    for rule in (
        imported("apixaban", "sertraline", MAJOR),
        imported("sertraline", "apixaban", MAJOR),
    ):
        findings = pair("Eliquis", "Zoloft", imported=[rule])
        assert len(findings) == 1, summary(findings)
        finding = findings[0]
        assert (finding.kind, finding.severity) == (Kind.DRUG_DRUG, MAJOR)
        assert finding.rule == f"imported:{rule.a}|{rule.b}"
        assert curated.id in finding.rules
        assert set(finding.sources) == {*curated.sources, "ddinter-test"}
        # curated texts lead even when the imported rule sets the severity
        assert finding.mechanism == curated.mechanism


def test_imported_rule_below_the_curated_one_keeps_the_curated_severity() -> None:
    curated = RULES["anticoagulant-nsaid"]
    findings = pair("warfarin", "ibuprofen", imported=[imported("ibuprofen", "warfarin", MINOR)])
    assert len(findings) == 1, summary(findings)
    finding = findings[0]
    assert (finding.severity, finding.rule) == (MAJOR, curated.id)
    assert "imported:ibuprofen|warfarin" in finding.rules
    assert set(finding.sources) == {*curated.sources, "ddinter-test"}


def test_imported_rule_for_an_uncurated_pair_gives_a_finding_and_others_are_ignored() -> None:
    rules = [imported("metformin", "lisinopril", MODERATE), imported("aspirin", "warfarin", MINOR)]
    findings = pair("lisinopril", "Glucophage", imported=rules)
    assert summary(findings) == [("drug-drug", "moderate", ("imported:metformin|lisinopril",))]
    assert findings[0].sources == ("ddinter-test",)


# --- finding ids ----------------------------------------------------------------------------
def test_finding_ids_are_stable_and_distinct_between_kinds() -> None:
    first = pair("sertraline", "fluoxetine")
    second = pair("sertraline", "fluoxetine")
    assert [f.id for f in first] == [f.id for f in second]
    assert len({f.id for f in first}) == 2
    assert pair("fluoxetine", "sertraline")[0].id in {f.id for f in first}


def test_finding_ids_differ_between_pairs_and_allergies() -> None:
    assert pair("sertraline", "tramadol")[0].id != pair("fluoxetine", "tramadol")[0].id
    one = with_allergy("penicillins", "amoxicillin")[0]
    two = with_allergy("PCN", "amoxicillin")[0]
    assert one.id != two.id
