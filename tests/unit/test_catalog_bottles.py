"""The bottle sizes a liquid is dispensed in (docs/clinical.md, "Bottle sizes"): read with
their source, and every malformed or unsourced entry refused, naming the drug."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from service.domain.catalog import Formulation, Source
from service.knowledge import load
from service.knowledge.formulations import read_formulations
from service.knowledge.reading import Problems

WHERE = "drugs/cns-psych.yaml: diazepam"
SOURCES = {"label-x": Source(id="label-x", citation="A label's How Supplied.", url=None)}


def liquid(**bottles: Any) -> dict[str, Any]:
    return {"form": "oral-solution", "strengths": [1], "unit": "mg/mL", **bottles}


def read(raw: dict[str, Any]) -> tuple[tuple[Formulation, ...], list[str]]:
    problems = Problems()
    formulations = read_formulations(WHERE, [raw], problems, SOURCES)
    return formulations, problems.items


def only_problem(raw: dict[str, Any], fragment: str) -> None:
    formulations, problems = read(raw)
    assert len(problems) == 1, problems
    assert problems[0].startswith(WHERE), problems[0]
    assert fragment in problems[0], problems[0]
    assert formulations[0].bottles_ml == ()


@pytest.mark.parametrize("form", ["oral-solution", "oral-suspension", "oral-concentrate"])
def test_a_liquid_reads_its_bottles_ascending_with_their_source(form: str) -> None:
    (f,), problems = read(liquid(form=form, bottles_ml=[500, 120.5, 30], bottles_source="label-x"))
    assert problems == []
    assert f.bottles_ml == (Decimal(30), Decimal("120.5"), Decimal(500))
    assert f.bottles_source == "label-x"


def test_a_formulation_without_bottles_has_none() -> None:
    (f,), problems = read(liquid())
    assert problems == []
    assert (f.bottles_ml, f.bottles_source) == ((), None)


@pytest.mark.parametrize("form", ["tablet", "capsule", "injection", "nebulizer-solution"])
def test_bottles_on_a_form_that_is_not_an_oral_liquid(form: str) -> None:
    raw = {"form": form, "strengths": [5], "unit": "mg", "bottles_ml": [100]}
    only_problem({**raw, "bottles_source": "label-x"}, "only an oral solution")


@pytest.mark.parametrize("size", [0, -5, "500", "500 mL", None, True, float("nan"), float("inf")])
def test_a_bottle_volume_must_be_a_positive_finite_number(size: Any) -> None:
    only_problem(liquid(bottles_ml=[100, size], bottles_source="label-x"), "positive number")


def test_bottles_must_be_a_list() -> None:
    only_problem(liquid(bottles_ml=500, bottles_source="label-x"), "must be a list")


@pytest.mark.parametrize("sizes", [[100, 100], [100, 100.0], [120, 473, 120]])
def test_a_bottle_volume_listed_twice(sizes: list[Any]) -> None:
    only_problem(liquid(bottles_ml=sizes, bottles_source="label-x"), "twice")


@pytest.mark.parametrize("source", [None, "", ["label-x"]])
def test_bottles_without_a_source(source: Any) -> None:
    only_problem(liquid(bottles_ml=[500], bottles_source=source), "need a bottles_source")


@pytest.mark.parametrize("sizes", [None, []])
def test_a_source_without_bottles(sizes: Any) -> None:
    only_problem(liquid(bottles_ml=sizes, bottles_source="label-x"), "needs bottles_ml")


def test_bottles_citing_an_unknown_source() -> None:
    _, problems = read(liquid(bottles_ml=[500], bottles_source="label-y"))
    assert problems == [f"{WHERE} oral-solution bottles: unknown source 'label-y'"]


def test_the_shipped_diazepam_solution_has_sourced_bottles() -> None:
    kb = load()
    (solution,) = [
        f
        for f in kb.catalog.drugs["diazepam"].formulations
        if f.form == "oral-solution" and f.strengths == (Decimal(1),)
    ]
    assert solution.bottles_ml
    assert list(solution.bottles_ml) == sorted(set(solution.bottles_ml))
    assert solution.bottles_source in kb.catalog.sources


def test_every_shipped_bottle_is_on_an_oral_liquid_with_a_known_source() -> None:
    kb = load()
    bottled = [
        f
        for d in kb.catalog.drugs.values()
        for f in d.formulations
        if f.bottles_ml or f.bottles_source
    ]
    assert bottled
    for f in bottled:
        assert f.form in {"oral-solution", "oral-suspension", "oral-concentrate"}
        assert f.bottles_ml
        assert all(size > 0 for size in f.bottles_ml)
        assert f.bottles_source in kb.catalog.sources
