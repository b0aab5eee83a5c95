"""Validation of the curated knowledge base: a corrupt data folder fails loudly."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.knowledge import KnowledgeBaseError, load, load_from
from service.knowledge.loader import DATA


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA, root)
    return root


def edit(path: Path, change: Callable[[Any], None]) -> None:
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(content)
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), "utf-8")


def entry(entries: list[dict[str, Any]], entry_id: str) -> dict[str, Any]:
    (found,) = [e for e in entries if e.get("id") == entry_id]
    return found


def problems_of(root: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as info:
        load_from(root)
    problems = info.value.problems
    assert problems
    for problem in problems:
        assert problem in str(info.value)
    return problems


def only_problem(root: Path, *fragments: str) -> str:
    problems = problems_of(root)
    assert len(problems) == 1, problems
    for fragment in fragments:
        assert fragment in problems[0], problems[0]
    return problems[0]


def test_a_copy_of_the_shipped_data_loads(data: Path) -> None:
    kb = load_from(data)
    shipped = load()
    assert kb.version == shipped.version
    assert set(kb.catalog.drugs) == set(shipped.catalog.drugs)
    assert set(kb.catalog.products) == set(shipped.catalog.products)
    assert [r.id for r in kb.pair_rules] == [r.id for r in shipped.pair_rules]
    assert len(kb.cross_sensitivities) == len(shipped.cross_sensitivities) > 0
    assert len(kb.condition_rules) == len(shipped.condition_rules) > 0


def test_an_unchanged_round_trip_through_the_editor_still_loads(data: Path) -> None:
    # guards the corruption tests: rewriting a file as-is changes nothing
    edit(data / "drugs" / "cns-psych.yaml", lambda drugs: None)
    edit(data / "rules" / "cns.yaml", lambda doc: None)
    edit(data / "classes.yaml", lambda doc: None)
    assert len(load_from(data).catalog.drugs) == len(load().catalog.drugs)


def test_unknown_class_on_a_drug(data: Path) -> None:
    edit(
        data / "drugs" / "cns-psych.yaml",
        lambda drugs: entry(drugs, "escitalopram")["classes"].append("ssris"),
    )
    only_problem(data, "drugs/cns-psych.yaml", "escitalopram", "unknown class 'ssris'")


def test_drug_without_a_class(data: Path) -> None:
    edit(
        data / "drugs" / "cns-psych.yaml",
        lambda drugs: entry(drugs, "sertraline").update(classes=[]),
    )
    only_problem(data, "drugs/cns-psych.yaml", "sertraline", "at least one class")


@pytest.mark.parametrize("brand", ["Lexapro", "LEXAPRO", "lexapro"])
def test_duplicate_name_across_drugs(data: Path, brand: str) -> None:
    edit(
        data / "drugs" / "cns-psych.yaml",
        lambda drugs: entry(drugs, "sertraline")["brands"].append(brand),
    )
    only_problem(data, "'lexapro'", "sertraline", "escitalopram")


def test_duplicate_name_between_a_product_and_a_drug(data: Path) -> None:
    edit(
        data / "products.yaml",
        lambda products: entry(products, "oxycodone-acetaminophen")["brands"].append("Tylenol"),
    )
    only_problem(data, "'tylenol'", "oxycodone-acetaminophen", "acetaminophen")


def test_duplicate_name_problem_names_the_file(data: Path) -> None:
    # service/knowledge/loader.py and service/knowledge/data/README.md: each problem
    # comes "with its file and entry"
    edit(
        data / "drugs" / "cns-psych.yaml",
        lambda drugs: entry(drugs, "sertraline")["brands"].append("Lexapro"),
    )
    only_problem(data, "drugs/cns-psych.yaml", "'lexapro'")


def test_rule_naming_an_unknown_drug(data: Path) -> None:
    edit(
        data / "rules" / "cns.yaml",
        lambda doc: entry(doc["drug_drug"], "ramelteon-fluvoxamine")["b"].update(
            drugs=["fluvoxamin"]
        ),
    )
    only_problem(data, "rules/cns.yaml", "ramelteon-fluvoxamine", "names unknown drug 'fluvoxamin'")


def test_rule_naming_a_product_instead_of_an_ingredient(data: Path) -> None:
    edit(
        data / "rules" / "other.yaml",
        lambda doc: entry(doc["drug_drug"], "methotrexate-trimethoprim")["b"].update(
            drugs=["sulfamethoxazole-trimethoprim"]
        ),
    )
    only_problem(data, "methotrexate-trimethoprim", "unknown drug 'sulfamethoxazole-trimethoprim'")


def test_rule_naming_an_unknown_class(data: Path) -> None:
    edit(
        data / "rules" / "cns.yaml",
        lambda doc: entry(doc["drug_drug"], "opioid-benzodiazepine")["b"].update(
            classes=["benzodiazepines"]
        ),
    )
    only_problem(data, "opioid-benzodiazepine", "names unknown class 'benzodiazepines'")


def test_pregnancy_rule_naming_an_unknown_drug(data: Path) -> None:
    edit(
        data / "rules" / "pregnancy.yaml",
        lambda doc: entry(doc["pregnancy"], "pregnancy-warfarin")["drugs"].update(
            drugs=["warfarine"]
        ),
    )
    only_problem(data, "rules/pregnancy.yaml", "pregnancy-warfarin", "unknown drug 'warfarine'")


def test_rule_citing_an_unknown_source(data: Path) -> None:
    edit(
        data / "rules" / "cardio.yaml",
        lambda doc: entry(doc["drug_drug"], "qt-qt")["sources"].append("no-such-source"),
    )
    only_problem(data, "rules/cardio.yaml", "qt-qt", "unknown source 'no-such-source'")


def test_rule_without_sources(data: Path) -> None:
    edit(
        data / "rules" / "allergy.yaml",
        lambda doc: entry(doc["cross_sensitivity"], "penicillin-cephalosporin").update(sources=[]),
    )
    only_problem(data, "penicillin-cephalosporin", "no sources")


def test_class_citing_an_unknown_source(data: Path) -> None:
    edit(
        data / "classes.yaml",
        lambda doc: doc["classes"]["ssri"]["sources"].append("no-such-source"),
    )
    only_problem(data, "classes.yaml", "ssri", "unknown source 'no-such-source'")


def test_class_member_not_in_the_catalog(data: Path) -> None:
    edit(
        data / "classes.yaml",
        lambda doc: doc["classes"]["maoi"]["members"].append("isoniazide"),
    )
    only_problem(data, "classes.yaml", "maoi", "member 'isoniazide' is not in the catalog")


def test_class_implying_an_unknown_class(data: Path) -> None:
    edit(
        data / "classes.yaml",
        lambda doc: doc["classes"]["ssri"]["implies"].append("serotonin"),
    )
    only_problem(data, "classes.yaml", "ssri", "implies unknown class 'serotonin'")


def test_unknown_rule_severity(data: Path) -> None:
    edit(
        data / "rules" / "other.yaml",
        lambda doc: entry(doc["drug_drug"], "methotrexate-trimethoprim").update(severity="severe"),
    )
    only_problem(data, "rules/other.yaml", "methotrexate-trimethoprim", "unknown severity 'severe'")


@pytest.mark.parametrize("severity", ["Major", "high", None])
def test_unknown_severity_spellings(data: Path, severity: str | None) -> None:
    edit(
        data / "rules" / "pregnancy.yaml",
        lambda doc: entry(doc["pregnancy"], "pregnancy-nsaid").update(severity=severity),
    )
    only_problem(data, "pregnancy-nsaid", "unknown severity")


def test_unknown_duplicate_severity_on_a_class(data: Path) -> None:
    edit(data / "classes.yaml", lambda doc: doc["classes"]["ssri"].update(duplicate="medium"))
    only_problem(data, "classes.yaml", "ssri", "unknown duplicate severity 'medium'")


def test_duplicate_rule_id_across_files(data: Path) -> None:
    def add(doc: dict[str, Any]) -> None:
        copy = dict(entry(doc["drug_drug"], "methotrexate-nsaid"), id="qt-qt")
        doc["drug_drug"].append(copy)

    edit(data / "rules" / "other.yaml", add)
    only_problem(data, "qt-qt", "duplicate rule id")


def test_product_with_an_unknown_ingredient(data: Path) -> None:
    edit(
        data / "products.yaml",
        lambda products: entry(products, "oxycodone-acetaminophen")["ingredients"].append(
            "caffeine"
        ),
    )
    only_problem(data, "products.yaml", "oxycodone-acetaminophen", "unknown ingredient 'caffeine'")


def test_unknown_section_in_a_rules_file(data: Path) -> None:
    edit(data / "rules" / "cns.yaml", lambda doc: doc.update(drug_food=[]))
    only_problem(data, "rules/cns.yaml", "unknown section 'drug_food'")


def test_every_problem_is_reported_at_once(data: Path) -> None:
    edit(
        data / "drugs" / "cns-psych.yaml",
        lambda drugs: entry(drugs, "escitalopram")["classes"].append("ssris"),
    )
    edit(
        data / "rules" / "cardio.yaml",
        lambda doc: entry(doc["drug_drug"], "qt-qt")["sources"].append("no-such-source"),
    )
    edit(
        data / "classes.yaml",
        lambda doc: doc["classes"]["maoi"]["members"].append("isoniazide"),
    )
    problems = problems_of(data)
    assert len(problems) == 3, problems
    text = "\n".join(problems)
    for fragment in ("'ssris'", "'no-such-source'", "'isoniazide'"):
        assert fragment in text


def occupancy_of(data: Path, drug_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    edit(
        data / "drugs" / "cns-psych.yaml", lambda drugs: change(entry(drugs, drug_id)["occupancy"])
    )


def test_occupancy_model_far_from_its_anchor(data: Path) -> None:
    occupancy_of(data, "escitalopram", lambda o: o.update(ed50_mg=3))
    assert problems_of(data) == [
        "drugs/cns-psych.yaml: escitalopram occupancy: the model gives 69.8% at 10 mg, "
        "10.2 points from the anchor's 80%",
        "drugs/cns-psych.yaml: escitalopram occupancy: the model gives 78.9% at 20 mg, "
        "6.1 points from the anchor's 85%",
    ]


def test_occupancy_anchor_citing_an_unknown_source(data: Path) -> None:
    occupancy_of(data, "sertraline", lambda o: o["anchors"][0].update(source="meyer-2004"))
    only_problem(data, "sertraline occupancy", "unknown source 'meyer-2004'")


def test_occupancy_needs_two_anchors_and_a_derivation(data: Path) -> None:
    def strip(o: dict[str, Any]) -> None:
        del o["anchors"][1]
        del o["derivation"]

    occupancy_of(data, "citalopram", strip)
    problems = problems_of(data)
    assert len(problems) == 2, problems
    assert any("at least two published anchors" in p for p in problems)
    assert any("no derivation" in p for p in problems)


def test_occupancy_with_impossible_parameters(data: Path) -> None:
    occupancy_of(data, "paroxetine", lambda o: o.update(emax_pct=120))
    only_problem(data, "paroxetine occupancy", "emax_pct must be in (0, 100]")


def test_occupancy_with_a_missing_parameter(data: Path) -> None:
    occupancy_of(data, "venlafaxine", lambda o: o.pop("ed50_mg"))
    only_problem(data, "venlafaxine occupancy", "malformed")


def floor_of(data: Path, drug_id: str, floor: Any) -> None:
    edit(data / "drugs" / "cns-psych.yaml", lambda d: entry(d, drug_id).update(taper_floor=floor))


def test_the_shipped_taper_floor_reaches_the_drug() -> None:
    diazepam = load().catalog.drugs["diazepam"]
    assert diazepam.taper_floor_mg == Decimal(1)
    assert diazepam.taper_floor_source == "nhs-scotland-bzra-reduction-schedules"
    lorazepam = load().catalog.drugs["lorazepam"]
    assert (lorazepam.taper_floor_mg, lorazepam.taper_floor_source) == (None, None)


def test_a_taper_floor_keeps_its_decimal(data: Path) -> None:
    floor_of(data, "lorazepam", {"mg": 0.25, "source": "asam-2025-benzodiazepine-tapering"})
    assert load_from(data).catalog.drugs["lorazepam"].taper_floor_mg == Decimal("0.25")


@pytest.mark.parametrize("mg", [0, -1, float("nan"), float("inf"), "one", True])
def test_a_taper_floor_must_be_a_positive_finite_dose(data: Path, mg: Any) -> None:
    floor_of(data, "diazepam", {"mg": mg, "source": "nhs-scotland-bzra-reduction-schedules"})
    only_problem(data, "drugs/cns-psych.yaml: diazepam taper_floor")


def test_a_taper_floor_citing_an_unknown_source(data: Path) -> None:
    floor_of(data, "diazepam", {"mg": 1, "source": "ashton"})
    only_problem(data, "diazepam taper_floor", "unknown source 'ashton'")


@pytest.mark.parametrize("floor", [1, {"mg": 1}, {"mg": 1, "source": "x", "note": "y"}])
def test_a_taper_floor_needs_a_dose_and_a_source(data: Path, floor: Any) -> None:
    floor_of(data, "diazepam", floor)
    only_problem(data, "diazepam taper_floor")
