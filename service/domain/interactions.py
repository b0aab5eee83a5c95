"""Interaction checking over a knowledge base (docs/clinical.md, "Interaction checking").

Pure: the caller resolves names, loads the patient's regimen and any imported
pair rules, and passes them in. One pair of drugs (as entered) yields at most
one finding per kind, at the highest matching severity, with the sources of
every matching rule merged. The result does not depend on the order of the
drugs, and a pair is checked the same way whichever side is new.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from service.domain.catalog import Catalog, normalize
from service.domain.conditions import Condition, ConditionCode, within
from service.domain.dosing import DoseLimit
from service.domain.severity import Severity


class Kind(enum.StrEnum):
    DRUG_DRUG = "drug-drug"
    DUPLICATE = "duplicate-therapy"
    ALLERGY = "drug-allergy"
    CONDITION = "drug-condition"
    AGE = "drug-age"
    DOSE_RANGE = "dose-range"
    ABRUPT_STOP = "abrupt-stop"
    PARTIAL_SCREENING = "partial-screening"


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


@dataclass(frozen=True, kw_only=True)
class Item:
    """A drug in the check: as entered, its ingredients, and its prescription if any."""

    input: str
    name: str
    ingredients: tuple[str, ...]
    prescription_id: str | None = None
    # A product the patient reports taking without a prescription.
    reported_product_id: str | None = None
    # Where the prescription is being tapered: its dose now and where the plan goes.
    taper: str | None = None


@dataclass(frozen=True, kw_only=True)
class Allergy:
    """One entry of the patient's allergy list, resolved where possible."""

    text: str
    ingredients: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class Patient:
    allergies: tuple[Allergy, ...] = ()
    pregnant: bool = False
    conditions: tuple[Condition, ...] = ()
    # Whole years on the day of the check; None when not known.
    age: int | None = None

    def all_conditions(self) -> tuple[Condition, ...]:
        """The coded conditions, pregnancy included."""
        if self.pregnant:
            return (Condition(code=ConditionCode.PREGNANCY), *self.conditions)
        return self.conditions


@dataclass(frozen=True, kw_only=True)
class Finding:
    id: str
    kind: Kind
    severity: Severity
    drugs: tuple[Item, ...]
    rule: str
    rules: tuple[str, ...]
    classes: tuple[str, ...]
    mechanism: str
    effect: str
    management: str
    sources: tuple[str, ...]
    allergy: str | None = None
    condition: str | None = None


@dataclass(frozen=True, kw_only=True)
class _Match:
    rule: str
    severity: Severity
    classes: tuple[str, ...]
    mechanism: str
    effect: str
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

    def pair_matches(self, x: str, y: str) -> tuple[_Match, ...]:
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
def _pair_matches(kb: KnowledgeBase, x: str, y: str) -> tuple[_Match, ...]:
    cx, cy = kb.classes_of(x), kb.classes_of(y)
    found: list[_Match] = []
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
        found.append(_of(rule, tuple(dict.fromkeys(classes))))
    return tuple(found)


def _of(rule: Rule, classes: tuple[str, ...]) -> _Match:
    """A curated rule's match, with the classes through which it matched."""
    return _Match(
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


def _duplicates(kb: KnowledgeBase, x: str, y: str) -> list[_Match]:
    if x == y:
        name = kb.drug_name(x)
        return [
            _Match(
                rule="same-ingredient",
                severity=Severity.MAJOR,
                classes=(),
                mechanism=f"Both contain {name}.",
                effect=(
                    "A double dose of the same ingredient "
                    "(for example acetaminophen in two products)."
                ),
                management=(
                    "Stop one of them, or confirm the total daily dose is intended and safe."
                ),
                sources=("fda-label",),
            )
        ]
    found: list[_Match] = []
    for class_id in sorted(kb.classes_of(x) & kb.classes_of(y)):
        c = kb.catalog.classes[class_id]
        if c.duplicate is None:
            continue
        found.append(
            _Match(
                rule=f"duplicate-{class_id}",
                severity=c.duplicate,
                classes=(class_id,),
                mechanism=f"Both are {c.name.lower()}.",
                effect=(
                    "Two drugs of the same therapeutic class: additive effects and "
                    "adverse effects without added benefit."
                ),
                management=(
                    "Confirm both are intended (for example during a planned switch); "
                    "otherwise stop one."
                ),
                sources=c.sources,
            )
        )
    return found


def _imported(rule: ImportedRule, kb: KnowledgeBase) -> _Match:
    return _Match(
        rule=f"imported:{rule.a}|{rule.b}",
        severity=rule.severity,
        classes=(),
        mechanism=rule.mechanism or "Listed in an imported interaction dataset.",
        effect=(
            f"Interaction between {kb.drug_name(rule.a)} and {kb.drug_name(rule.b)} "
            "reported by the dataset."
        ),
        management=rule.management or "Consult the dataset's monograph for this pair.",
        sources=rule.sources,
    )


def _merge(matches: Sequence[_Match]) -> tuple[_Match, tuple[str, ...]]:
    """Highest severity wins; its texts lead; every source is kept once."""
    ordered = sorted(matches, key=lambda m: (m.severity.rank, m.rule))
    top = ordered[0]
    texted = next((m for m in ordered if not m.rule.startswith("imported:")), top)
    return _Match(
        rule=top.rule,
        severity=top.severity,
        classes=tuple(dict.fromkeys(c for m in ordered for c in m.classes)),
        mechanism=texted.mechanism,
        effect=texted.effect,
        management=texted.management,
        sources=tuple(dict.fromkeys(s for m in ordered for s in m.sources)),
    ), tuple(dict.fromkeys(m.rule for m in ordered))


def _finding_id(kind: Kind, severity: Severity, *parts: str) -> str:
    digest = hashlib.sha256("|".join((kind.value, severity.value, *parts)).encode())
    return "F" + digest.hexdigest()[:15]


def _item_key(item: Item) -> str:
    return "+".join(sorted(item.ingredients)) or normalize(item.input)


def _build(
    kind: Kind,
    matches: Sequence[_Match],
    drugs: tuple[Item, ...],
    *,
    allergy: str | None = None,
    condition: str | None = None,
) -> Finding:
    merged, rules = _merge(matches)
    keys = sorted(_item_key(d) for d in drugs)
    return Finding(
        id=_finding_id(kind, merged.severity, *keys, allergy or "", condition or ""),
        kind=kind,
        severity=merged.severity,
        drugs=tuple(sorted(drugs, key=_item_key)),
        rule=merged.rule,
        rules=rules,
        classes=merged.classes,
        mechanism=merged.mechanism,
        effect=merged.effect,
        management=merged.management,
        sources=merged.sources,
        allergy=allergy,
        condition=condition,
    )


def single_finding(
    kind: Kind,
    *,
    rule: str,
    severity: Severity,
    item: Item,
    mechanism: str,
    effect: str,
    management: str,
    sources: tuple[str, ...],
    condition: str | None = None,
    other: Item | None = None,
) -> Finding:
    """A finding about one drug (or a pair, with `other`) that no rule file holds:
    a dose limit, or what the name of an unlisted drug gives away."""
    match = _Match(
        rule=rule,
        severity=severity,
        classes=(),
        mechanism=mechanism,
        effect=effect,
        management=management,
        sources=sources,
    )
    return _build(kind, [match], (item, other) if other else (item,), condition=condition)


def _imported_index(rules: Iterable[ImportedRule]) -> Mapping[tuple[str, str], list[ImportedRule]]:
    index: dict[tuple[str, str], list[ImportedRule]] = {}
    for r in rules:
        index.setdefault((min(r.a, r.b), max(r.a, r.b)), []).append(r)
    return index


def _check_pair(
    kb: KnowledgeBase,
    one: Item,
    two: Item,
    imported: Mapping[tuple[str, str], list[ImportedRule]],
) -> Iterator[Finding]:
    by_kind: dict[Kind, list[_Match]] = {}
    for x in one.ingredients:
        for y in two.ingredients:
            dups = _duplicates(kb, x, y)
            if dups:
                by_kind.setdefault(Kind.DUPLICATE, []).extend(dups)
            if x == y:
                continue
            ddi = list(kb.pair_matches(x, y))
            ddi.extend(_imported(r, kb) for r in imported.get((min(x, y), max(x, y)), ()))
            if ddi:
                by_kind.setdefault(Kind.DRUG_DRUG, []).extend(ddi)
    for kind, matches in by_kind.items():
        yield _build(kind, matches, (one, two))


def _allergy_matches(kb: KnowledgeBase, item: Item, allergy: Allergy) -> list[_Match]:
    found: list[_Match] = []
    for ingredient in item.ingredients:
        classes = kb.classes_of(ingredient)
        allergen_classes = {c for c in classes if kb.catalog.classes[c].allergen}
        if ingredient in allergy.ingredients:
            found.append(
                _allergy_match(
                    "allergy-ingredient",
                    Severity.CONTRAINDICATED,
                    (),
                    allergy,
                    kb.drug_name(ingredient),
                )
            )
            continue
        shared = sorted(allergen_classes & allergy.classes)
        if shared:
            names = ", ".join(kb.class_name(c).lower() for c in shared)
            found.append(
                _allergy_match("allergy-class", Severity.MAJOR, tuple(shared), allergy, names)
            )
        for rule in kb.cross_sensitivities:
            if rule.drug.matches(ingredient, classes) and _names_allergy(rule.allergen, allergy):
                found.append(_of(rule, tuple(sorted(rule.drug.classes & classes))))
    return found


def _names_allergy(side: Selector, allergy: Allergy) -> bool:
    return not (
        side.drugs.isdisjoint(allergy.ingredients) and side.classes.isdisjoint(allergy.classes)
    )


def resolve_allergy(kb: KnowledgeBase, text: str) -> Allergy:
    """An allergy-list entry as a class ("penicillins") or as ingredients ("amoxicillin").

    An ingredient allergy carries the ingredient's allergen classes, so that a
    related drug of the same class is caught too.
    """
    named = kb.catalog.resolve_class(text)
    if named is not None:
        return Allergy(text=text, classes=frozenset({named.id}))
    resolved = kb.catalog.resolve(text)
    if resolved is None:
        return Allergy(text=text)
    classes = {
        c for i in resolved.ingredients for c in kb.classes_of(i) if kb.catalog.classes[c].allergen
    }
    return Allergy(
        text=text, ingredients=frozenset(resolved.ingredients), classes=frozenset(classes)
    )


def _allergy_match(
    rule: str, severity: Severity, classes: tuple[str, ...], allergy: Allergy, what: str
) -> _Match:
    same = rule == "allergy-ingredient"
    return _Match(
        rule=rule,
        severity=severity,
        classes=classes,
        mechanism=(
            f"The patient is allergic to {what}, which this drug contains."
            if same
            else f"The recorded allergy ({allergy.text}) and this drug share a class: {what}."
        ),
        effect="Hypersensitivity reaction, up to anaphylaxis or a severe cutaneous reaction.",
        management=(
            "Do not give; choose a drug from another class."
            if same
            else "Avoid unless the allergy has been evaluated (for example penicillin allergy "
            "testing); if given, monitor for a reaction."
        ),
        sources=("aaaai-2022-drug-allergy",),
    )


def _condition_matches(kb: KnowledgeBase, item: Item, facts: Condition) -> list[_Match]:
    found: list[_Match] = []
    for ingredient in item.ingredients:
        classes = kb.classes_of(ingredient)
        for rule in kb.condition_rules:
            if (
                rule.condition == facts.code.value
                and rule.applies_to(facts)
                and rule.drugs.matches(ingredient, classes)
            ):
                found.append(_of(rule, tuple(sorted(rule.drugs.classes & classes))))
    return found


def _age_matches(kb: KnowledgeBase, item: Item, age: int) -> list[_Match]:
    found: list[_Match] = []
    for ingredient in item.ingredients:
        classes = kb.classes_of(ingredient)
        for rule in kb.age_rules:
            if age >= rule.min_age and rule.drugs.matches(ingredient, classes):
                found.append(_of(rule, tuple(sorted(rule.drugs.classes & classes))))
    return found


def check_patient(kb: KnowledgeBase, item: Item, patient: Patient) -> list[Finding]:
    """Findings of one drug against the patient's allergies, conditions and age."""
    findings: list[Finding] = []
    for allergy in patient.allergies:
        matches = _allergy_matches(kb, item, allergy)
        if matches:
            findings.append(_build(Kind.ALLERGY, matches, (item,), allergy=allergy.text))
    for facts in patient.all_conditions():
        matches = _condition_matches(kb, item, facts)
        if matches:
            findings.append(_build(Kind.CONDITION, matches, (item,), condition=facts.code.value))
    if patient.age is not None:
        matches = _age_matches(kb, item, patient.age)
        if matches:
            findings.append(_build(Kind.AGE, matches, (item,), condition="older-adult"))
    return findings


def check(
    kb: KnowledgeBase,
    *,
    new: Sequence[Item],
    current: Sequence[Item] = (),
    patient: Patient | None = None,
    imported: Iterable[ImportedRule] = (),
) -> list[Finding]:
    """Findings for the new drugs among themselves, against the current regimen,
    the patient's allergies, conditions (pregnancy included) and age; most severe first."""
    index = _imported_index(imported)
    findings: list[Finding] = []
    for i, one in enumerate(new):
        for two in [*new[i + 1 :], *current]:
            findings.extend(_check_pair(kb, one, two, index))
        if patient is not None:
            findings.extend(check_patient(kb, one, patient))
    return by_severity(findings)


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by kind and id (a stable order for clients)."""
    return sorted(findings, key=lambda f: (f.severity.rank, f.kind.value, f.id))
