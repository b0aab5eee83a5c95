"""Interaction checking over a knowledge base (docs/clinical.md, "Interaction checking").

Pure: the caller resolves names, loads the patient's regimen and any imported
pair rules, and passes them in. One pair of drugs (as entered) yields at most
one finding per kind, at the highest matching severity, with the sources of
every matching rule merged. The result does not depend on the order of the
drugs, and a pair is checked the same way whichever side is new.

This module checks pairs and puts the checks together; the rules and their index
are in `interaction_rules`, findings in `findings`, the checks against the patient
in `patient_checks`, and every name of theirs callers use is importable from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from service.domain.findings import (
    Finding,
    Item,
    Kind,
    Match,
    build_finding,
    by_severity,
    single_finding,
)
from service.domain.interaction_rules import (
    AgeRule,
    ConditionRule,
    CrossSensitivity,
    ImportedRule,
    KnowledgeBase,
    PairRule,
    Rule,
    Selector,
)
from service.domain.patient_checks import Allergy, Patient, check_patient, resolve_allergy
from service.domain.severity import Severity

__all__ = [
    "AgeRule",
    "Allergy",
    "ConditionRule",
    "CrossSensitivity",
    "Finding",
    "ImportedRule",
    "Item",
    "Kind",
    "KnowledgeBase",
    "PairRule",
    "Patient",
    "Rule",
    "Selector",
    "by_severity",
    "check",
    "check_patient",
    "resolve_allergy",
    "single_finding",
]


def _duplicates(kb: KnowledgeBase, x: str, y: str) -> list[Match]:
    if x == y:
        name = kb.drug_name(x)
        return [
            Match(
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
    found: list[Match] = []
    for class_id in sorted(kb.classes_of(x) & kb.classes_of(y)):
        c = kb.catalog.classes[class_id]
        if c.duplicate is None:
            continue
        found.append(
            Match(
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


def _imported(rule: ImportedRule, kb: KnowledgeBase) -> Match:
    return Match(
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


def _imported_index(
    rules: Iterable[ImportedRule],
) -> Mapping[tuple[str, str], list[ImportedRule]]:
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
    by_kind: dict[Kind, list[Match]] = {}
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
        yield build_finding(kind, matches, (one, two))


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
