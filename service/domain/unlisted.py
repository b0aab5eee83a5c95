"""Screening a drug the catalog does not list (docs/clinical.md, "Unlisted drugs").

Nothing is skipped silently: what the name still allows is checked (the allergy
list's text, the same name already taken, any ingredient or class a word of the
name names), and one finding says plainly which checks could not run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.catalog import normalize
from service.domain.interactions import (
    Finding,
    Item,
    Kind,
    KnowledgeBase,
    Patient,
    by_severity,
    check,
    single_finding,
)
from service.domain.severity import Severity

# Words too short or too common to name a drug on their own ("the", "oral", "tab").
_MIN_WORD = 4
ALL_CHECKS = (
    "drug-drug interactions",
    "duplicate therapy by class",
    "allergy by ingredient and class",
    "drug-condition",
    "age (AGS Beers)",
    "dose range",
    "route and unit",
)


@dataclass(frozen=True, kw_only=True)
class Revealed:
    """What the words of an unlisted name give away."""

    ingredients: tuple[str, ...]
    classes: tuple[str, ...]


def reveal(kb: KnowledgeBase, text: str) -> Revealed:
    """Catalog ingredients and classes named by single words of the text."""
    ingredients: list[str] = []
    classes: list[str] = []
    for word in normalize(text).split():
        if len(word) < _MIN_WORD:
            continue
        found = kb.catalog.resolve(word)
        if found is not None:
            ingredients.extend(i for i in found.ingredients if i not in ingredients)
        named = kb.catalog.resolve_class(word)
        if named is not None and named.id not in classes:
            classes.append(named.id)
    return Revealed(ingredients=tuple(ingredients), classes=tuple(classes))


def _contains(a: str, b: str) -> bool:
    x, y = normalize(a), normalize(b)
    return bool(x) and bool(y) and (x in y or y in x)


def screen_unlisted(
    kb: KnowledgeBase,
    *,
    name: str,
    current: Sequence[Item],
    patient: Patient | None,
    resembles: Sequence[str] = (),
) -> tuple[Item, list[Finding]]:
    """The item the unlisted drug is checked as, and its findings: the full check of
    any revealed ingredient, allergy entries and drugs taken that its name contains
    (or that contain it), class duplicates of a revealed class, and the checks that
    could not run."""
    revealed = reveal(kb, name)
    item = Item(input=name, name=name, ingredients=revealed.ingredients)
    findings = (
        check(kb, new=[item], current=current, patient=patient) if revealed.ingredients else []
    )
    findings.extend(_allergy_findings(item, patient))
    findings.extend(_duplicate_findings(kb, item, revealed, current))
    findings.append(_what_ran(item, revealed, resembles))
    return item, by_severity(findings)


def _allergy_findings(item: Item, patient: Patient | None) -> list[Finding]:
    """Allergy entries the name contains, or that contain it."""
    name = item.input
    return [
        single_finding(
            Kind.ALLERGY,
            rule="allergy-name",
            severity=Severity.MAJOR,
            item=item,
            mechanism=f"The name {name!r} contains the allergy entry {allergy.text!r}.",
            effect="Possible hypersensitivity to a drug the catalog cannot identify.",
            management="Confirm what the product contains before giving it.",
            sources=("aaaai-2022-drug-allergy",),
        )
        for allergy in (patient.allergies if patient else ())
        if _contains(allergy.text, name)
    ]


def _duplicate_findings(
    kb: KnowledgeBase, item: Item, revealed: Revealed, current: Sequence[Item]
) -> list[Finding]:
    """Drugs taken under the same name, or of a class the name names."""
    name = item.input
    findings: list[Finding] = []
    for other in current:
        same_name = _contains(other.input, name) or _contains(other.name, name)
        shared = [
            c for c in revealed.classes if any(c in kb.classes_of(i) for i in other.ingredients)
        ]
        if not same_name and not shared:
            continue
        why = f"{name!r} and {other.input!r} have the same name."
        if not same_name:
            why = f"{name!r} names a class {other.input!r} belongs to: {kb.class_name(shared[0])}."
        findings.append(
            single_finding(
                Kind.DUPLICATE,
                rule="duplicate-name" if same_name else f"duplicate-{shared[0]}",
                severity=Severity.MAJOR,
                item=item,
                mechanism=why,
                effect="Possibly the same drug twice, under a name the catalog cannot check.",
                management="Confirm both are intended; otherwise stop one.",
                sources=("fda-label",),
                other=other,
            )
        )
    return findings


def _what_ran(item: Item, revealed: Revealed, resembles: Sequence[str]) -> Finding:
    """The partial-screening finding: what the name allowed to be checked, and what not."""
    if revealed.ingredients:
        missing: tuple[str, ...] = ("dose range", "route and unit", "any other ingredient")
        checked = (
            f"; and in full, the ingredients its name reveals ({', '.join(revealed.ingredients)})"
        )
    else:
        missing, checked = ALL_CHECKS, ""
    checked = f"the allergy list and the drugs taken, by name{checked}"
    return partial_finding(item, checked=checked, missing=missing, resembles=resembles)


def partial_finding(
    item: Item, *, checked: str, missing: Sequence[str], resembles: Sequence[str] = ()
) -> Finding:
    """The finding that says plainly which checks ran on a drug the catalog does not
    list, and which could not."""
    hint = (
        f"It resembles {', '.join(resembles)}: if that is what is meant, prescribe it by "
        "that name so that it is checked in full. "
        if resembles
        else ""
    )
    return single_finding(
        Kind.PARTIAL_SCREENING,
        rule="unlisted-drug",
        severity=Severity.MODERATE,
        item=item,
        mechanism=(
            f"{item.input!r} is not in the drug catalog. Checked: {checked}. "
            f"Could not run: {', '.join(missing)}."
        ),
        effect="Interactions and other problems this drug may have go unreported.",
        management=hint + "Otherwise check the product's label and an interaction reference "
        "by hand.",
        sources=("fda-label",),
    )
