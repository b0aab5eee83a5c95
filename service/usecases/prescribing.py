"""What every new or changed prescription goes through before it is stored: its name
(safe characters, resolved through the catalog, the strength it states), its route
and unit, and the screening of the patient's whole record against it
(docs/clinical.md, "Interaction checking" and "Checks beyond interactions")."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from service.db.tables import Patient
from service.db.uow import UnitOfWork
from service.domain.catalog import Resolved
from service.domain.dose_checks import check_route_and_unit, dose_range_findings
from service.domain.dosing import Amount
from service.domain.drug_text import name_problem, stated_strength
from service.domain.errors import Problems
from service.domain.interactions import Finding, Item, KnowledgeBase, by_severity, check
from service.domain.interactions import Patient as PatientFacts
from service.domain.prescriptions import PrescriptionTerms
from service.domain.unlisted import ALL_CHECKS, partial_finding, screen_unlisted
from service.usecases.errors import UnresolvedDrug, ValidationFailed, domain_rules
from service.usecases.interactions import (
    imported_rules,
    patient_facts,
    patient_items,
    resolve_name,
)
from service.usecases.screening import Screening, suggestion_json


def check_name(text: str, *, field: str = "drug") -> None:
    """Refuse names with invisible, bidirectional or mixed-script characters (422)."""
    problem = name_problem(text)
    if problem:
        raise ValidationFailed("The drug name is not safe to store.", errors={field: [problem]})


def resolve_prescribed(
    uow: UnitOfWork, kb: KnowledgeBase, name: str, screening: Screening
) -> Resolved | None:
    """The catalog entry (or imported-only drug) a prescribed name means; None for a
    confirmed unlisted drug; otherwise 422 with structured suggestions."""
    check_name(name)
    found = resolve_name(uow, kb, name)
    if isinstance(found, Resolved) and found.in_catalog:
        return found
    if screening.confirm_unlisted:
        if not (screening.unlisted_reason or "").strip():
            raise ValidationFailed(
                "An unlisted drug needs a reason.",
                errors={
                    "unlisted_reason": [
                        "Required with confirm_unlisted: why this drug, which the catalog "
                        "cannot check in full (audited)."
                    ]
                },
            )
        # An imported dataset may still know the name; its pairs are then checked.
        return found if isinstance(found, Resolved) else None
    suggestions = () if isinstance(found, Resolved) else found.suggestions
    hint = f" Did you mean {', '.join(s.name for s in suggestions)}?" if suggestions else ""
    raise UnresolvedDrug(
        "The drug is not in the catalog.",
        errors={
            "drug": [
                f"{name!r} is not in the drug catalog, so it cannot be checked in full.{hint} "
                "Send confirm_unlisted: true with unlisted_reason to prescribe it anyway."
            ]
        },
        suggestions=[suggestion_json(s) for s in suggestions],
    )


def check_form(kb: KnowledgeBase, drug: Resolved | None, terms: PrescriptionTerms) -> None:
    """Route and unit must fit the drug's formulations, and a strength stated in the
    drug's text must be the dose, or a whole number of it (422 naming every problem)."""
    problems = Problems()
    if drug is not None and drug.in_catalog:
        check_route_and_unit(
            kb,
            ingredients=drug.ingredients,
            route=terms.route,
            unit=terms.dose.unit,
            problems=problems,
        )
    stated = stated_strength(terms.drug)
    if stated is not None:
        dose = Amount(value=terms.dose.amount, unit=terms.dose.unit).expressed_in(stated.unit)
        # A whole number of units of the strength named (two 10 mg tablets) agrees.
        if dose is not None and (dose < stated.amount or dose % stated.amount != 0):
            problems.add("drug", f"The name states {stated}, but the dose is {_dose(terms)}.")
            problems.add("dose.amount", f"{_dose(terms)} contradicts the {stated} in the name.")
    with domain_rules("The prescription does not fit the drug."):
        problems.raise_if_any()


def _dose(terms: PrescriptionTerms) -> str:
    return str(Amount(value=terms.dose.amount, unit=terms.dose.unit))


@dataclass(frozen=True, kw_only=True)
class Screened:
    item: Item
    findings: list[Finding]
    partial: bool


def screen(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    patient: Patient,
    drug: Resolved | None,
    terms: PrescriptionTerms,
    now: dt.datetime,
    exclude: uuid.UUID | None = None,
) -> Screened:
    """Findings of a drug on this patient: against every drug they take, their
    allergies, conditions and age, and its dose against the label's maximum. An
    unlisted drug is screened as far as its name allows (`partial`)."""
    facts = patient_facts(uow, kb, patient, now)
    current = patient_items(uow, kb, patient, now, exclude=exclude)
    if drug is None:
        resembles = [s.name for s in kb.catalog.suggest(terms.drug)]
        item, findings = screen_unlisted(
            kb, name=terms.drug, current=current, patient=facts, resembles=resembles
        )
        return Screened(item=item, findings=findings, partial=True)
    item = Item(input=terms.drug, name=drug.name, ingredients=drug.ingredients)
    found = check(
        kb,
        new=[item],
        current=current,
        patient=facts,
        imported=imported_rules(uow, [item], current),
    )
    found += dose_findings(kb, item=item, terms=terms, patient=facts)
    if not drug.in_catalog:
        # Known only to an imported dataset: its pairs there are all that is checked.
        found.append(
            partial_finding(
                item,
                checked="its pairs in the imported interaction datasets",
                missing=[c for c in ALL_CHECKS if c != "drug-drug interactions"],
            )
        )
    return Screened(item=item, findings=by_severity(found), partial=not drug.in_catalog)


def dose_findings(
    kb: KnowledgeBase, *, item: Item, terms: PrescriptionTerms, patient: PatientFacts
) -> list[Finding]:
    return dose_range_findings(
        kb,
        item=item,
        dose=terms.dose,
        route=terms.route,
        schedule=terms.schedule,
        conditions=patient.conditions,
    )
