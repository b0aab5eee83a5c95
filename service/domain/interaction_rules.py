"""The curated rules and the knowledge base that indexes them for checking."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from service.domain.catalog import Catalog
from service.domain.conditions import Condition, within
from service.domain.dosing import DoseLimit
from service.domain.findings import Kind, Match
from service.domain.severity import Severity


@dataclass(frozen=True, kw_only=True)
class Selector:
    """Matches an ingredient listed in `drugs` or belonging to any of `classes`."""

    drugs: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()

    def matches(self, ingredient: str, classes: frozenset[str]) -> bool:
        return ingredient in self.drugs or not self.classes.isdisjoint(classes)


@dataclass(frozen=True, kw_only=True)
class Rule:
    id: str
    kind: Kind
    severity: Severity
    mechanism: str
    effect: str
    management: str
    sources: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class PairRule(Rule):
    a: Selector
    b: Selector


@dataclass(frozen=True, kw_only=True)
class CrossSensitivity(Rule):
    allergen: Selector
    drug: Selector


@dataclass(frozen=True, kw_only=True)
class ConditionRule(Rule):
    """A drug (or class) to avoid or watch in a condition; for hepatic impairment only
    in the Child-Pugh classes listed (all when none), for renal impairment only below
    an eGFR (all when none)."""

    condition: str
    drugs: Selector
    child_pugh: frozenset[str] = frozenset()
    egfr_below: Decimal | None = None

    def applies_to(self, facts: Condition) -> bool:
        return within(facts, child_pugh=self.child_pugh, egfr_below=self.egfr_below)


@dataclass(frozen=True, kw_only=True)
class AgeRule(Rule):
    """A drug to avoid from an age on (AGS Beers Criteria 2023, Table 2)."""

    drugs: Selector
    min_age: int


@dataclass(frozen=True, kw_only=True)
class ImportedRule:
    """A pair rule from an imported dataset, keyed by ingredient (or external name)."""

    a: str
    b: str
    severity: Severity
    mechanism: str
    management: str
    sources: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class KnowledgeBase:
    """The catalog and the curated rules, indexed for checking."""

    version: str
    catalog: Catalog
    pair_rules: tuple[PairRule, ...]
    cross_sensitivities: tuple[CrossSensitivity, ...]
    condition_rules: tuple[ConditionRule, ...]
    age_rules: tuple[AgeRule, ...] = ()
    # Usual adult maxima, by (ingredient, route).
    dose_limits: Mapping[tuple[str, str], DoseLimit] = field(default_factory=dict)
    _by_token: dict[str, list[PairRule]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for rule in self.pair_rules:
            for side in (rule.a, rule.b):
                for token in _tokens(side.drugs, side.classes):
                    bucket = self._by_token.setdefault(token, [])
                    if rule not in bucket:
                        bucket.append(rule)

    def classes_of(self, ingredient: str) -> frozenset[str]:
        drug = self.catalog.drugs.get(ingredient)
        return drug.classes if drug else frozenset()

    def pair_matches(self, x: str, y: str) -> tuple[Match, ...]:
        """Curated drug-drug and duplicate-therapy matches of two ingredients."""
        return _pair_matches(self, *sorted((x, y)))

    def class_name(self, class_id: str) -> str:
        c = self.catalog.classes.get(class_id)
        return c.name if c else class_id

    def drug_name(self, ingredient: str) -> str:
        drug = self.catalog.drugs.get(ingredient)
        return drug.name if drug else ingredient.removeprefix("x:")


def _tokens(drugs: Iterable[str], classes: Iterable[str]) -> Iterator[str]:
    for d in drugs:
        yield f"d:{d}"
    for c in classes:
        yield f"c:{c}"


@lru_cache(maxsize=65536)
def _pair_matches(kb: KnowledgeBase, x: str, y: str) -> tuple[Match, ...]:
    cx, cy = kb.classes_of(x), kb.classes_of(y)
    found: list[Match] = []
    candidates: dict[str, PairRule] = {}
    for token in _tokens((x,), cx):
        for rule in kb._by_token.get(token, ()):
            candidates.setdefault(rule.id, rule)
    for rule in candidates.values():
        if rule.a.matches(x, cx) and rule.b.matches(y, cy):
            classes = _matched(rule.a, cx) + _matched(rule.b, cy)
        elif rule.a.matches(y, cy) and rule.b.matches(x, cx):
            classes = _matched(rule.a, cy) + _matched(rule.b, cx)
        else:
            continue
        found.append(rule_match(rule, tuple(dict.fromkeys(classes))))
    return tuple(found)


def rule_match(rule: Rule, classes: tuple[str, ...]) -> Match:
    """A curated rule's match, with the classes through which it matched."""
    return Match(
        rule=rule.id,
        severity=rule.severity,
        classes=classes,
        mechanism=rule.mechanism,
        effect=rule.effect,
        management=rule.management,
        sources=rule.sources,
    )


def _matched(side: Selector, classes: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(side.classes & classes))
