"""Findings: what a check reports about one drug or a pair, built from the rules
(or other facts) that matched; one finding per kind and drugs, at the highest
severity, with every matching rule's sources merged (docs/clinical.md,
"Interaction checking")."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.domain.catalog import normalize
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


class Answer(enum.StrEnum):
    """How a clinician answered a finding: read and accepted it (a major finding's
    acknowledgement), or went ahead against it (the prescriber's override, with a
    reason)."""

    ACKNOWLEDGED = "acknowledged"
    OVERRIDDEN = "overridden"


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
class Match:
    """What one rule (or other fact) says of the drugs, before a finding merges them."""

    rule: str
    severity: Severity
    classes: tuple[str, ...]
    mechanism: str
    effect: str
    management: str
    sources: tuple[str, ...]


def _merge(matches: Sequence[Match]) -> tuple[Match, tuple[str, ...]]:
    """Highest severity wins; its texts lead; every source is kept once."""
    ordered = sorted(matches, key=lambda m: (m.severity.rank, m.rule))
    top = ordered[0]
    texted = next((m for m in ordered if not m.rule.startswith("imported:")), top)
    return Match(
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


def build_finding(
    kind: Kind,
    matches: Sequence[Match],
    drugs: tuple[Item, ...],
    *,
    allergy: str | None = None,
    condition: str | None = None,
) -> Finding:
    """One finding of the matches of one kind. Its id depends only on the kind, the
    severity, what the drugs contain and the allergy or condition, so a finding
    found again has the same id."""
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
    match = Match(
        rule=rule,
        severity=severity,
        classes=(),
        mechanism=mechanism,
        effect=effect,
        management=management,
        sources=sources,
    )
    return build_finding(kind, [match], (item, other) if other else (item,), condition=condition)


def by_severity(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by kind and id (a stable order for clients)."""
    return sorted(findings, key=lambda f: (f.severity.rank, f.kind.value, f.id))
