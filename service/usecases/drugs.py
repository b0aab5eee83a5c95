"""The drug catalog as clinician apps browse it (autocomplete, drug details)."""

from __future__ import annotations

from typing import Any

from service.db.uow import UnitOfWork
from service.domain.catalog import Drug, Product
from service.domain.interactions import KnowledgeBase
from service.domain.pages import Page
from service.usecases.errors import NotFound
from service.usecases.interactions import knowledge_base_version
from service.usecases.screening import describe


def _summary(kb: KnowledgeBase, entry: Drug | Product) -> dict[str, Any]:
    ingredients = kb.catalog.ingredients_of(entry.id)
    return {
        "id": entry.id,
        "name": entry.name,
        "kind": "ingredient" if isinstance(entry, Drug) else "combination",
        "brands": list(entry.brands),
        "ingredients": list(ingredients),
        "withdrawal_risk": any(kb.catalog.drugs[i].withdrawal_risk for i in ingredients),
    }


def search_drugs(*, kb: KnowledgeBase, query: str, limit: int) -> Page[dict[str, Any]]:
    """The best `limit` matches, and how many entries match in all (the catalog is
    searched whole: the first `limit` of every match are the best `limit`)."""
    every = kb.catalog.search(query, limit=len(kb.catalog.drugs) + len(kb.catalog.products))
    return Page((_summary(kb, e) for e in every[:limit]), total=len(every))


def get_drug(*, uow: UnitOfWork, kb: KnowledgeBase, drug_id: str) -> dict[str, Any]:
    if drug_id not in kb.catalog.drugs and drug_id not in kb.catalog.products:
        raise NotFound(f"No drug {drug_id!r} in the catalog.")
    with uow.read_only() as uow:
        version = knowledge_base_version(uow, kb)
    entry = kb.catalog.entry(drug_id)
    ingredients = [kb.catalog.drugs[i] for i in kb.catalog.ingredients_of(drug_id)]
    classes = sorted({c for d in ingredients for c in d.classes})
    reasons = [f"{d.name}: {d.withdrawal_risk}" for d in ingredients if d.withdrawal_risk]
    drug = entry if isinstance(entry, Drug) else None
    return {
        **_summary(kb, entry),
        "atc": entry.atc,
        "synonyms": list(entry.synonyms),
        "classes": [{"id": c, "name": kb.class_name(c)} for c in classes],
        "formulations": [
            {
                "form": f.form,
                "strengths": [float(s) for s in f.strengths],
                "unit": f.unit,
                "scored": f.scored,
            }
            for d in ingredients
            if drug is not None
            for f in d.formulations
        ],
        "withdrawal_reason": " ".join(reasons) or None,
        "occupancy": (
            {
                "target": drug.occupancy.target,
                "emax_pct": float(drug.occupancy.emax_pct),
                "ed50_mg": float(drug.occupancy.ed50_mg),
                "anchors": [
                    {
                        "dose_mg": float(a.dose_mg),
                        "occupancy_pct": float(a.occupancy_pct),
                        "source": a.source,
                    }
                    for a in drug.occupancy.anchors
                ],
                "derivation": drug.occupancy.derivation,
                "sources": [describe(kb, s) for s in drug.occupancy.sources],
            }
            if drug is not None and drug.occupancy is not None
            else None
        ),
        "knowledge_base_version": version,
    }
