"""Checks of one drug against the patient: allergies (by ingredient, by class and by
documented cross-sensitivity), coded conditions (pregnancy included) and age."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.conditions import Condition, ConditionCode
from service.domain.findings import Finding, Item, Kind, Match, build_finding
from service.domain.interaction_rules import KnowledgeBase, Selector, rule_match
from service.domain.severity import Severity


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


def _allergy_matches(kb: KnowledgeBase, item: Item, allergy: Allergy) -> list[Match]:
    found: list[Match] = []
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
                found.append(rule_match(rule, tuple(sorted(rule.drug.classes & classes))))
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
        text=text,
        ingredients=frozenset(resolved.ingredients),
        classes=frozenset(classes),
    )


def _allergy_match(
    rule: str, severity: Severity, classes: tuple[str, ...], allergy: Allergy, what: str
) -> Match:
    same = rule == "allergy-ingredient"
    return Match(
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


def _condition_matches(kb: KnowledgeBase, item: Item, facts: Condition) -> list[Match]:
    found: list[Match] = []
    for ingredient in item.ingredients:
        classes = kb.classes_of(ingredient)
        for rule in kb.condition_rules:
            if (
                rule.condition == facts.code.value
                and rule.applies_to(facts)
                and rule.drugs.matches(ingredient, classes)
            ):
                found.append(rule_match(rule, tuple(sorted(rule.drugs.classes & classes))))
    return found


def _age_matches(kb: KnowledgeBase, item: Item, age: int) -> list[Match]:
    found: list[Match] = []
    for ingredient in item.ingredients:
        classes = kb.classes_of(ingredient)
        for rule in kb.age_rules:
            if age >= rule.min_age and rule.drugs.matches(ingredient, classes):
                found.append(rule_match(rule, tuple(sorted(rule.drugs.classes & classes))))
    return found


def check_patient(kb: KnowledgeBase, item: Item, patient: Patient) -> list[Finding]:
    """Findings of one drug against the patient's allergies, conditions and age."""
    findings: list[Finding] = []
    for allergy in patient.allergies:
        matches = _allergy_matches(kb, item, allergy)
        if matches:
            findings.append(build_finding(Kind.ALLERGY, matches, (item,), allergy=allergy.text))
    for facts in patient.all_conditions():
        matches = _condition_matches(kb, item, facts)
        if matches:
            findings.append(
                build_finding(Kind.CONDITION, matches, (item,), condition=facts.code.value)
            )
    if patient.age is not None:
        matches = _age_matches(kb, item, patient.age)
        if matches:
            findings.append(build_finding(Kind.AGE, matches, (item,), condition="older-adult"))
    return findings
