"""Medications as FHIR CodeableConcepts, both ways: a catalog entry coded by RxNorm
(where the catalog has the ingredient's RxCUI), ATC and text; and an EHR's concept
resolved to a catalog entry by the first of its codes the catalog knows, else by
its text or a coding's display, through the same name resolution as the JSON API,
reading an RxNorm clinical-drug name ("sertraline 50 MG Oral Tablet") as its
ingredients. A code the catalog does not know (an RxNorm clinical-drug code, say)
is not an error while the text resolves."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.domain.catalog import Catalog, Resolved
from service.domain.drug_names import clinical_drug_name

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


def medication_concept(catalog: Catalog, entry_id: str | None, text: str) -> dict[str, Any]:
    """The concept for a prescription's drug: its codes where the catalog entry is an
    ingredient with codes, and always the text as written."""
    codings: list[dict[str, Any]] = []
    drug = catalog.drugs.get(entry_id) if entry_id else None
    if drug is not None:
        if drug.rxcui:
            codings.append({"system": RXNORM, "code": drug.rxcui, "display": drug.name})
        if drug.atc:
            codings.append({"system": ATC, "code": drug.atc, "display": drug.name})
    concept: dict[str, Any] = {"text": text}
    if codings:
        concept = {"coding": codings, "text": text}
    return concept


@dataclass(frozen=True)
class Resolution:
    """What an EHR's concept resolved to (`resolved`); else what did not resolve
    (`unknown`: "system|code" or a name), or, when its codes and names name different
    drugs (`conflict`), each of them and what it named."""

    resolved: Resolved | None
    unknown: tuple[str, ...] = ()
    conflict: bool = False


def _codings(concept: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return ()
    return [c for c in codings if isinstance(c, Mapping)]


def _by_code(catalog: Catalog, system: Any, code: Any) -> Resolved | None:
    if not isinstance(code, str):
        return None
    drug = None
    if system == RXNORM:
        drug = catalog.by_rxcui(code.strip())
    elif system == ATC:
        drug = catalog.by_atc(code)
    if drug is None:
        return None
    return Resolved(input=code, entry_id=drug.id, name=drug.name, ingredients=(drug.id,))


def resolve_concept(catalog: Catalog, concept: Mapping[str, Any]) -> Resolution:
    """The catalog entry a concept names, read from every part of it: each RxNorm
    ingredient or ATC code, the text and each coding's display read as a drug name.

    Every part that resolves must name the same ingredients: an order coded as one
    drug and labelled as another is refused (a conflict), never checked as whichever
    part came first, since that would screen a drug other than the one ordered. Parts
    that resolve to nothing are ignored when another part resolves."""
    found: list[tuple[str, Resolved]] = []
    unknown: list[str] = []
    names: list[str] = []
    for coding in _codings(concept):
        system, code = coding.get("system"), coding.get("code")
        by_code = _by_code(catalog, system, code)
        if by_code is not None:
            found.append((f"{system}|{code}", by_code))
        elif isinstance(code, str):
            unknown.append(f"{system or ''}|{code}")
        display = coding.get("display")
        if isinstance(display, str) and display.strip():
            names.append(display)
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        names.insert(0, text)
    for name in names:
        by_name = resolve_name(catalog, name)
        if by_name is None:
            unknown.append(name)
        else:
            found.append((name, by_name))
    if not found:
        return Resolution(None, tuple(unknown))
    if len({frozenset(r.ingredients) for _, r in found}) > 1:
        return Resolution(None, tuple(f"{part} ({r.name})" for part, r in found), conflict=True)
    # A code before a name: it says the most precisely what was meant.
    return Resolution(found[0][1])


def resolve_name(catalog: Catalog, name: str) -> Resolved | None:
    """A drug name as the JSON API reads it; else, for an RxNorm clinical-drug name,
    its ingredients together (a combination resolves to its product), then its brand."""
    found = catalog.resolve(name)
    parsed = clinical_drug_name(name) if found is None else None
    if parsed is not None:
        found = catalog.resolve(" / ".join(parsed.ingredients))
        if found is None and parsed.brand:
            found = catalog.resolve(parsed.brand)
        if found is not None:
            found = dataclasses.replace(found, input=name)
    return found
