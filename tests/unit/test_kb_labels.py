"""Commonly prescribed drugs added in drugs/common.yaml and the label-derived rules of
rules/labels.yaml: the drugs resolve by generic and brand name, every rule fires at
its own severity on a representative pair, and related pairs the labels leave alone
stay quiet (docs/clinical.md, "Catalog" and "Interaction checking")."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from service.domain.interactions import Finding, Item, Kind, check
from service.domain.severity import Severity
from service.knowledge import load
from service.knowledge.loader import DATA

KB = load()
CATALOG = KB.catalog
RULES = {r.id: r for r in KB.pair_rules}

CONTRAINDICATED = Severity.CONTRAINDICATED
MAJOR = Severity.MAJOR
MODERATE = Severity.MODERATE
MINOR = Severity.MINOR


def _ids(path: Path, key: str | None = None) -> list[str]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = doc[key] if key else doc
    return [str(e["id"]) for e in entries]


COMMON_DRUGS = _ids(DATA / "drugs" / "common.yaml")
LABEL_RULES = _ids(DATA / "rules" / "labels.yaml", "drug_drug")


def item(name: str) -> Item:
    resolved = CATALOG.resolve(name)
    assert resolved is not None, f"{name!r} does not resolve"
    return Item(input=name, name=resolved.name, ingredients=resolved.ingredients)


def pair(new: str, current: str) -> list[Finding]:
    return check(KB, new=[item(new)], current=[item(current)])


def drug_drug(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind is Kind.DRUG_DRUG]


def summary(findings: Iterable[Finding]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(f.kind.value, f.severity.value, f.rules) for f in findings]


# --- the new ingredients resolve ---------------------------------------------------
RESOLVE: list[tuple[str, str]] = [
    ("disulfiram", "disulfiram"),
    ("Antabuse", "disulfiram"),
    ("acamprosate calcium", "acamprosate"),
    ("Campral", "acamprosate"),
    ("Ubrelvy", "ubrogepant"),
    ("Nurtec ODT", "rimegepant"),
    ("prazosin", "prazosin"),
    ("Minipress", "prazosin"),
    ("Trental", "pentoxifylline"),
    ("Lovaza", "omega-3-acid-ethyl-esters"),
    ("Welchol", "colesevelam"),
    ("Juxtapid", "lomitapide"),
    ("Vaprisol", "conivaptan"),
    ("Samsca", "tolvaptan"),
    ("Jynarque", "tolvaptan"),
    ("EpiPen", "epinephrine"),
    ("adrenaline", "epinephrine"),
    ("Tresiba", "insulin-degludec"),
    ("Humulin R", "insulin-regular"),
    ("regular insulin", "insulin-regular"),
    ("Armour Thyroid", "thyroid-desiccated"),
    ("NP Thyroid", "thyroid-desiccated"),
    ("DDAVP", "desmopressin"),
    ("desmopressin acetate", "desmopressin"),
    ("Megace ES", "megestrol"),
    ("norgestimate", "norgestimate"),
    ("desogestrel", "desogestrel"),
    ("Nexplanon", "etonogestrel"),
    ("Addyi", "flibanserin"),
    ("Rapaflo", "silodosin"),
    ("Levsin", "hyoscyamine"),
    ("Robinul", "glycopyrrolate"),
    ("Humira", "adalimumab"),
    ("Kenalog-40", "triamcinolone"),
    ("triamcinolone acetonide", "triamcinolone"),
    ("Temovate", "clobetasol"),
    ("Diprolene", "betamethasone"),
    ("Lidex", "fluocinonide"),
    ("Bactroban", "mupirocin"),
    ("Retin-A", "tretinoin"),
    ("Lidoderm", "lidocaine"),
    ("Peridex", "chlorhexidine"),
    ("Xalatan", "latanoprost"),
    ("Timoptic", "timolol"),
    ("Alphagan P", "brimonidine"),
    ("Trusopt", "dorzolamide"),
    ("Lotemax", "loteprednol"),
]


@pytest.mark.parametrize(("text", "drug_id"), RESOLVE, ids=[t for t, _ in RESOLVE])
def test_new_drugs_resolve_by_generic_and_brand(text: str, drug_id: str) -> None:
    resolved = CATALOG.resolve(text)
    assert resolved is not None, text
    assert resolved.ingredients == (drug_id,)


def test_every_new_drug_resolves_by_its_name_and_brands() -> None:
    for drug_id in COMMON_DRUGS:
        drug = CATALOG.drugs[drug_id]
        for name in (drug.name, *drug.brands):
            resolved = CATALOG.resolve(name)
            assert resolved is not None, name
            assert drug_id in resolved.ingredients, name


def test_the_resolution_cases_cover_every_new_drug() -> None:
    assert sorted(set(COMMON_DRUGS) - {d for _, d in RESOLVE}) == []


PRODUCTS: list[tuple[str, set[str]]] = [
    ("Sprintec", {"norgestimate", "ethinyl-estradiol"}),
    ("Apri", {"desogestrel", "ethinyl-estradiol"}),
    ("NuvaRing", {"etonogestrel", "ethinyl-estradiol"}),
    ("Humulin 70/30", {"insulin-isophane", "insulin-regular"}),
    ("Xultophy", {"insulin-degludec", "liraglutide"}),
    ("Cosopt", {"dorzolamide", "timolol"}),
    ("Combigan", {"brimonidine", "timolol"}),
    ("Bevespi Aerosphere", {"glycopyrrolate", "formoterol"}),
    ("Breztri Aerosphere", {"budesonide", "glycopyrrolate", "formoterol"}),
    ("Jalyn", {"dutasteride", "tamsulosin"}),
]


@pytest.mark.parametrize(("text", "ingredients"), PRODUCTS, ids=[t for t, _ in PRODUCTS])
def test_new_products_resolve_to_every_ingredient(text: str, ingredients: set[str]) -> None:
    resolved = CATALOG.resolve(text)
    assert resolved is not None, text
    assert set(resolved.ingredients) == ingredients


def test_classes_added_by_label_evidence() -> None:
    assert "cns-depressant" in CATALOG.drugs["flibanserin"].classes
    assert "strong-cyp3a4-inhibitor" in CATALOG.drugs["conivaptan"].classes
    assert "beta-blocker" in CATALOG.drugs["timolol"].classes
    assert CATALOG.drugs["timolol"].withdrawal_risk
    assert "systemic-corticosteroid" not in CATALOG.drugs["triamcinolone"].classes


# --- every label rule fires at its own severity ----------------------------------------
# (rule id, drug A, drug B): a pair where the label rule is the most severe match.
LABEL_POSITIVE: list[tuple[str, str, str]] = [
    ("label-disulfiram-metronidazole", "Antabuse", "Flagyl"),
    ("label-disulfiram-metronidazole", "disulfiram", "metronidazole"),
    ("label-disulfiram-tinidazole", "Antabuse", "tinidazole"),
    ("label-disulfiram-monitor", "disulfiram", "Coumadin"),
    ("label-disulfiram-monitor", "Antabuse", "isoniazid"),
    ("label-flibanserin-cyp3a4-inhibitor", "Addyi", "Cardizem"),
    ("label-flibanserin-cyp3a4-inhibitor", "flibanserin", "clarithromycin"),
    ("label-flibanserin-inducer", "Addyi", "rifampin"),
    ("label-lomitapide-cyp3a4-inhibitor", "Juxtapid", "verapamil"),
    ("label-lomitapide-cyp3a4-inhibitor", "lomitapide", "itraconazole"),
    ("label-lomitapide-statin", "lomitapide", "Zocor"),
    ("label-conivaptan-strong-cyp3a4", "Vaprisol", "ketoconazole"),
    ("label-tolvaptan-strong-cyp3a4", "Samsca", "clarithromycin"),
    ("label-tolvaptan-moderate-cyp3a4-inducer", "tolvaptan", "Cardizem"),
    ("label-tolvaptan-moderate-cyp3a4-inducer", "Jynarque", "rifampin"),
    ("label-silodosin-strong-cyp3a4", "Rapaflo", "itraconazole"),
    ("label-tamsulosin-strong-cyp3a4", "Flomax", "clarithromycin"),
    ("label-ubrogepant-strong-cyp3a4", "Ubrelvy", "ketoconazole"),
    ("label-ubrogepant-inducer", "ubrogepant", "rifampin"),
    ("label-rimegepant-cyp3a4", "Nurtec ODT", "rifampin"),
    ("label-rimegepant-cyp3a4", "rimegepant", "itraconazole"),
    ("label-suvorexant-strong-cyp3a4", "Belsomra", "clarithromycin"),
    ("label-cariprazine-inducer", "Vraylar", "rifampin"),
    ("label-ranolazine-inducer", "Ranexa", "rifampin"),
    ("label-ranolazine-moderate-cyp3a4", "ranolazine", "Cardizem"),
    ("label-ranolazine-metformin", "Ranexa", "Glucophage"),
    ("label-ivabradine-moderate-cyp3a4-inducer", "Corlanor", "verapamil"),
    ("label-ivabradine-moderate-cyp3a4-inducer", "ivabradine", "rifampin"),
    ("label-eplerenone-potassium-sparing", "Inspra", "spironolactone"),
    ("label-eplerenone-moderate-cyp3a4", "eplerenone", "verapamil"),
    ("label-dofetilide-megestrol", "Tikosyn", "Megace"),
    ("label-aliskiren-cyclosporine-itraconazole", "Tekturna", "cyclosporine"),
    ("label-cilostazol-cyp3a4-cyp2c19", "cilostazol", "Cardizem"),
    ("label-cilostazol-cyp3a4-cyp2c19", "cilostazol", "omeprazole"),
    ("label-bictegravir-contraindicated", "Biktarvy", "Tikosyn"),
    ("label-bictegravir-contraindicated", "Biktarvy", "rifampin"),
    ("label-bictegravir-inducer", "Biktarvy", "oxcarbazepine"),
    ("label-voriconazole-ritonavir", "Vfend", "ritonavir"),
    ("label-fluconazole-erythromycin", "Diflucan", "erythromycin"),
    ("label-nirmatrelvir-colchicine", "Paxlovid", "colchicine"),
    ("label-desmopressin-hyponatremia", "DDAVP", "Lasix"),
    ("label-desmopressin-hyponatremia", "desmopressin", "prednisone"),
    ("label-colesevelam-binding", "Welchol", "Synthroid"),
    ("label-etonogestrel-inducer", "Nexplanon", "rifampin"),
    ("label-quetiapine-inducer", "Seroquel", "rifampin"),
    ("label-lurasidone-moderate-cyp3a4", "Latuda", "Cardizem"),
    ("label-antimuscarinic-strong-cyp3a4", "Vesicare", "clarithromycin"),
    ("label-antimuscarinic-strong-cyp3a4", "tolterodine", "ketoconazole"),
    ("label-buspirone-cyp3a4", "buspirone", "Cardizem"),
    ("label-trazodone-cyp3a4", "trazodone", "itraconazole"),
    ("label-trazodone-cyp3a4", "trazodone", "rifampin"),
    ("label-aripiprazole-cyp3a4", "Abilify", "itraconazole"),
    ("label-aripiprazole-cyp3a4", "Rexulti", "rifampin"),
    ("label-vilazodone-strong-cyp3a4", "Viibryd", "itraconazole"),
]


@pytest.mark.parametrize(
    ("rule_id", "a", "b"), LABEL_POSITIVE, ids=[f"{r}:{a}+{b}" for r, a, b in LABEL_POSITIVE]
)
def test_each_label_rule_fires_at_its_own_severity(rule_id: str, a: str, b: str) -> None:
    rule = RULES[rule_id]
    for findings in (pair(a, b), pair(b, a), check(KB, new=[item(a), item(b)])):
        ddi = drug_drug(findings)
        assert len(ddi) == 1, summary(findings)
        finding = ddi[0]
        assert finding.severity == rule.severity, summary(findings)
        assert rule_id in finding.rules
        assert set(rule.sources) <= set(finding.sources)


def test_every_label_rule_has_a_positive_case() -> None:
    covered = {rule_id for rule_id, _, _ in LABEL_POSITIVE}
    assert sorted(set(LABEL_RULES) - covered) == []
    assert sorted(covered - set(LABEL_RULES)) == []


def test_label_rule_ids_are_prefixed() -> None:
    assert all(r.startswith("label-") for r in LABEL_RULES)


# --- related pairs the labels do not flag -----------------------------------------------
# (drug A, drug B, the most severe finding allowed; None: no finding at all)
LABEL_NEGATIVE: list[tuple[str, str, Severity | None]] = [
    # azithromycin is not a CYP3A4 inhibitor
    ("Addyi", "azithromycin", None),
    ("Rapaflo", "Zithromax", None),
    ("Flomax", "azithromycin", None),
    ("Ubrelvy", "azithromycin", None),
    ("Juxtapid", "Zithromax", None),
    # tamsulosin: only strong CYP3A4 inhibitors are named
    ("Flomax", "Cardizem", None),
    # lomitapide limits simvastatin and lovastatin only
    ("lomitapide", "pravastatin", None),
    ("lomitapide", "Crestor", None),
    # disulfiram: no rule for unrelated antibiotics
    ("Antabuse", "amoxicillin", None),
    ("Antabuse", "Keflex", None),
    # ranolazine and eplerenone: azithromycin and amlodipine are not CYP3A4 inhibitors
    ("Ranexa", "azithromycin", None),
    ("Inspra", "amlodipine", None),
    # desmopressin: inhaled corticosteroids and thiazides are not in the rule
    ("DDAVP", "Flovent HFA", None),
    # cilostazol: pantoprazole is not a CYP2C19 inhibitor of note
    ("cilostazol", "pantoprazole", None),
    # topical corticosteroids are not systemic: no NSAID finding
    ("Kenalog", "Advil", None),
    ("Temovate", "naproxen", None),
    ("Diprolene", "ibuprofen", None),
    # colesevelam does not bind atorvastatin
    ("Welchol", "Lipitor", None),
    # bictegravir: rifabutin and the anticonvulsants are major, not contraindicated
    ("Biktarvy", "carbamazepine", MAJOR),
]


@pytest.mark.parametrize(
    ("a", "b", "worst"), LABEL_NEGATIVE, ids=[f"{a}+{b}" for a, b, _ in LABEL_NEGATIVE]
)
def test_label_pairs_that_must_stay_below_a_severity(
    a: str, b: str, worst: Severity | None
) -> None:
    for findings in (pair(a, b), pair(b, a)):
        if worst is None:
            assert findings == [], summary(findings)
        else:
            too_severe = [f for f in findings if f.severity.rank < worst.rank]
            assert too_severe == [], summary(findings)


# --- common pairings of the new drugs raise nothing at moderate or above -----------------
HARMLESS: list[tuple[str, str]] = [
    ("Tresiba", "metformin"),
    ("Humulin R", "Lantus"),
    ("Xalatan", "Timoptic"),
    ("Xalatan", "lisinopril"),
    ("Armour Thyroid", "Lipitor"),
    ("Lovaza", "Lipitor"),
    ("EpiPen", "Zyrtec"),
    ("Bactroban", "Keflex"),
    ("Lidoderm", "Tylenol"),
    ("Retin-A", "doxycycline"),
    ("prazosin", "sertraline"),
    ("Campral", "naltrexone"),
    ("Humira", "methotrexate"),
    ("Nurtec ODT", "Tylenol"),
    ("Sprintec", "Tylenol"),
    ("Peridex", "amoxicillin"),
]


@pytest.mark.parametrize(("a", "b"), HARMLESS, ids=[f"{a}+{b}" for a, b in HARMLESS])
def test_common_pairings_of_new_drugs_raise_nothing_at_moderate_or_above(a: str, b: str) -> None:
    findings = pair(a, b)
    assert [f for f in findings if f.severity.at_least(MODERATE)] == [], summary(findings)
