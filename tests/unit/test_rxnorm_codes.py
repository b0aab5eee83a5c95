"""The catalog's RxNorm ingredient codes (codes/rxnorm.yaml): read from named
sources, one code per ingredient, and a corrupt file fails the load loudly."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.knowledge import KnowledgeBaseError, load, load_from
from service.knowledge.loader import DATA

CODES = Path("codes") / "rxnorm.yaml"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA, root)
    return root


def edit(root: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    path = root / CODES
    blocks = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(blocks)
    path.write_text(yaml.safe_dump(blocks, sort_keys=False), encoding="utf-8")


def only_problem(root: Path) -> str:
    with pytest.raises(KnowledgeBaseError) as info:
        load_from(root)
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


@pytest.mark.parametrize(
    ("drug_id", "rxcui"),
    [
        ("escitalopram", "321988"),
        ("diazepam", "3322"),
        ("sertraline", "36437"),
        ("tramadol", "10689"),
        ("phenelzine", "8123"),
    ],
)
def test_the_drugs_of_the_acceptance_carry_their_ingredient_code(drug_id: str, rxcui: str) -> None:
    catalog = load().catalog
    assert catalog.drugs[drug_id].rxcui == rxcui
    assert catalog.by_rxcui(rxcui) is catalog.drugs[drug_id]


def test_most_of_the_catalog_is_coded_and_each_code_is_one_ingredients() -> None:
    drugs = load().catalog.drugs.values()
    codes = [d.rxcui for d in drugs if d.rxcui]
    assert len(codes) > 0.85 * len(drugs)
    assert len(set(codes)) == len(codes)
    assert all(code.isdigit() for code in codes)


def test_an_ingredient_left_uncoded_has_no_code_and_still_its_atc() -> None:
    # lithium carbonate and lithium citrate are separate RxNorm ingredients
    lithium = load().catalog.drugs["lithium"]
    assert lithium.rxcui is None
    assert lithium.atc == "N05AN01"


def test_every_block_names_a_known_source_and_a_date() -> None:
    blocks = yaml.safe_load((DATA / CODES).read_text(encoding="utf-8"))
    sources = load().catalog.sources
    for block in blocks:
        assert block["source"] in sources
        assert sources[block["source"]].url
        assert str(block["retrieved"]) == "2026-12-05"


def test_a_copy_of_the_file_loads_with_the_same_codes(data: Path) -> None:
    edit(data, lambda blocks: None)
    copied = {d.id: d.rxcui for d in load_from(data).catalog.drugs.values()}
    assert copied == {d.id: d.rxcui for d in load().catalog.drugs.values()}


def test_a_code_for_an_unknown_drug(data: Path) -> None:
    edit(data, lambda blocks: blocks[0]["codes"].update({"not-a-drug": "123"}))
    problem = only_problem(data)
    assert "codes/rxnorm.yaml" in problem
    assert "not-a-drug" in problem
    assert "not a catalog ingredient" in problem


def test_a_code_given_to_two_drugs(data: Path) -> None:
    edit(data, lambda blocks: blocks[0]["codes"].update({"zolpidem": "3322"}))
    problem = only_problem(data)
    assert "zolpidem" in problem
    assert "'diazepam'" in problem


def test_a_drug_coded_in_two_blocks(data: Path) -> None:
    edit(data, lambda blocks: blocks[1]["codes"].update({"diazepam": "999999"}))
    problem = only_problem(data)
    assert "block 2: diazepam" in problem
    assert "already coded '3322'" in problem


@pytest.mark.parametrize("code", ["RX3322", "33.22", 3322, ""])
def test_a_code_that_is_not_a_quoted_string_of_digits(data: Path, code: Any) -> None:
    edit(data, lambda blocks: blocks[0]["codes"].update({"diazepam": code}))
    problem = only_problem(data)
    assert "diazepam" in problem
    assert "quoted string of digits" in problem


def test_a_block_citing_an_unknown_source(data: Path) -> None:
    edit(data, lambda blocks: blocks[0].update({"source": "my-memory"}))
    problem = only_problem(data)
    assert "codes/rxnorm.yaml: block 1" in problem
    assert "unknown source 'my-memory'" in problem


def test_a_block_without_its_date(data: Path) -> None:
    edit(data, lambda blocks: blocks[1].update({"retrieved": "last week"}))
    assert "retrieved is a date" in only_problem(data)


def test_a_block_missing_a_key(data: Path) -> None:
    edit(data, lambda blocks: blocks[1].pop("source"))
    assert "give exactly {source, retrieved, codes}" in only_problem(data)
