"""Load and validate the curated knowledge base shipped in `data/`.

Validation is strict and reports every problem at once, each with its file and
entry: an unknown class, a duplicate name, or a rule that names an unknown drug,
class or source stops the load.
"""

from __future__ import annotations

import functools
from pathlib import Path

from service.domain.catalog import Catalog
from service.domain.interactions import (
    AgeRule,
    ConditionRule,
    CrossSensitivity,
    KnowledgeBase,
    PairRule,
)
from service.knowledge.catalog import (
    check_names,
    read_classes,
    read_drugs,
    read_products,
    read_sources,
)
from service.knowledge.codes import read_rxnorm, with_rxnorm
from service.knowledge.formulations import FORMS, OCCUPANCY_TOLERANCE_PCT, UNITS
from service.knowledge.limits import LIMIT_UNITS, read_limits
from service.knowledge.reading import KnowledgeBaseError, Problems
from service.knowledge.rules import CONDITION_CODES, RULE_SECTIONS, of_type, read_rules

__all__ = [
    "CONDITION_CODES",
    "DATA",
    "FORMS",
    "LIMIT_UNITS",
    "OCCUPANCY_TOLERANCE_PCT",
    "RULE_SECTIONS",
    "UNITS",
    "KnowledgeBaseError",
    "load",
    "load_from",
]

DATA = Path(__file__).parent / "data"


def load_from(root: Path) -> KnowledgeBase:
    """Read and validate a knowledge-base folder; raise KnowledgeBaseError listing every problem."""
    problems = Problems()
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    sources = read_sources(root, problems)
    classes, members = read_classes(root, sources, problems)
    drugs, files = read_drugs(root, classes, members, sources, problems)
    drugs = with_rxnorm(drugs, read_rxnorm(root, drugs, sources, problems))
    products = read_products(root, drugs, problems)
    check_names(drugs, products, files, problems)
    rules = read_rules(root, drugs, classes, sources, problems)
    limits = read_limits(root, drugs, sources, problems)
    if problems.items:
        raise KnowledgeBaseError(problems.items)
    catalog = Catalog(drugs=drugs, products=products, classes=classes, sources=sources)
    return KnowledgeBase(
        version=version,
        catalog=catalog,
        pair_rules=of_type(rules, PairRule),
        cross_sensitivities=of_type(rules, CrossSensitivity),
        condition_rules=of_type(rules, ConditionRule),
        age_rules=of_type(rules, AgeRule),
        dose_limits=limits,
    )


@functools.cache
def load() -> KnowledgeBase:
    """The shipped knowledge base, read once per process."""
    return load_from(DATA)
