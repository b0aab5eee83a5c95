"""How interaction findings gate a new prescription (docs/clinical.md, "Interaction checking").

Contraindicated findings refuse the prescription unless a clinician overrides
with a reason; major findings need each finding acknowledged by id (or an
override); moderate and minor findings are stored and returned.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.catalog import Suggestion
from service.domain.interactions import Finding, KnowledgeBase
from service.domain.severity import Severity


class Resolution(enum.StrEnum):
    NONE = "none"
    ACKNOWLEDGED = "acknowledged"
    OVERRIDDEN = "overridden"


@dataclass(frozen=True, kw_only=True)
class Screening:
    """What the prescriber sent with the prescription."""

    override_reason: str | None = None
    acknowledge: frozenset[str] = frozenset()
    confirm_unlisted: bool = False
    unlisted_reason: str | None = None

    def overridden(self, findings: Sequence[Finding]) -> list[Finding]:
        if not self.override_reason:
            return []
        return [f for f in findings if f.severity.at_least(Severity.MAJOR)]

    def acknowledged(self, findings: Sequence[Finding]) -> list[Finding]:
        if self.override_reason:
            return []
        return [f for f in findings if f.severity is Severity.MAJOR and f.id in self.acknowledge]


def blocking(findings: Sequence[Finding], screening: Screening) -> list[Finding]:
    """Findings that refuse the prescription as sent."""
    if screening.override_reason:
        return []
    return [
        f
        for f in findings
        if f.severity is Severity.CONTRAINDICATED
        or (f.severity is Severity.MAJOR and f.id not in screening.acknowledge)
    ]


def resolution(finding: Finding, screening: Screening) -> Resolution:
    if finding in screening.overridden([finding]):
        return Resolution.OVERRIDDEN
    if finding in screening.acknowledged([finding]):
        return Resolution.ACKNOWLEDGED
    return Resolution.NONE


def finding_json(kb: KnowledgeBase, f: Finding) -> dict[str, Any]:
    """A finding as stored with the prescription and returned to clients."""
    return {
        "id": f.id,
        "kind": f.kind.value,
        "severity": f.severity.value,
        "drugs": [
            {
                "input": d.input,
                "resolved": d.name,
                "ingredients": list(d.ingredients),
                "prescription_id": d.prescription_id,
                "reported_product_id": d.reported_product_id,
                "taper": d.taper,
            }
            for d in f.drugs
        ],
        "rule": f.rule,
        "rules": list(f.rules),
        "classes": list(f.classes),
        "mechanism": f.mechanism,
        "effect": f.effect,
        "management": f.management,
        "sources": [describe(kb, s) for s in f.sources],
        "allergy": f.allergy,
        "condition": f.condition,
    }


def suggestion_json(s: Suggestion) -> dict[str, str]:
    """A name the catalog may mean, as 422 bodies and interaction checks give it."""
    return {"drug_id": s.drug_id, "name": s.name, "matched_on": s.matched_on}


def describe(kb: KnowledgeBase, source_id: str) -> dict[str, Any]:
    source = kb.catalog.sources.get(source_id)
    if source is not None:
        return {"id": source.id, "citation": source.citation, "url": source.url}
    _, dataset, text = ([*source_id.split(":", 2), "", ""])[:3]
    return {"id": source_id, "citation": f"Imported {dataset} dataset: {text}", "url": None}
