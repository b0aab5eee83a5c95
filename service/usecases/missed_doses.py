"""What to do about a missed dose of a drug: the label's advice from the catalog.

The follow-up for a dose not logged carries it (service.usecases.dispatch_messages),
and the app can ask for it by drug name. A drug the catalog has no advice for, or a
name it does not know, has none: the patient is told to ask their pharmacist.
"""

from __future__ import annotations

import functools
from typing import Any

from service import knowledge
from service.domain.interactions import KnowledgeBase


def advice_for(kb: KnowledgeBase, drug: str) -> dict[str, Any] | None:
    """`{"text", "source": {"id", "citation", "url"}}` for the drug named `drug`, or
    None. A combination product has the advice only if all its ingredients share it."""
    resolved = kb.catalog.resolve(drug)
    if resolved is None:
        return None
    found = {kb.catalog.drugs[i].missed_dose for i in resolved.ingredients}
    if len(found) != 1:
        return None
    advice = found.pop()
    if advice is None:
        return None
    source = kb.catalog.sources[advice.source]
    return {
        "text": advice.text,
        "source": {"id": source.id, "citation": source.citation, "url": source.url},
    }


@functools.lru_cache(maxsize=4096)
def shipped_advice(drug: str) -> dict[str, Any] | None:
    """`advice_for` over the catalog shipped with medtrack (loaded once per process)."""
    return advice_for(knowledge.load(), drug)
