"""Interaction checks: free-text drug names against each other, a patient's
regimen, allergies and pregnancy, with curated and imported rules merged."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from service.db.tables import Patient, PatientCondition, PrescriptionVersion, ReportedProduct
from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.accounts import Role
from service.domain.catalog import Resolved, Unresolved, normalize
from service.domain.conditions import Condition, ConditionCode, age_on
from service.domain.drug_text import name_problem
from service.domain.errors import Problems
from service.domain.interactions import (
    Finding,
    ImportedRule,
    Item,
    KnowledgeBase,
    check,
    resolve_allergy,
)
from service.domain.interactions import Patient as PatientFacts
from service.domain.severity import Severity
from service.domain.taper.arith import text as amount_text
from service.domain.taper.changes import current_index
from service.domain.taper.status import PlanStatus
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, domain_rules
from service.usecases.patient_words import findings_for
from service.usecases.screening import finding_json

EXTERNAL = "x:"


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    findings: list[Finding]
    resolved: list[Resolved]
    unresolved: list[Unresolved]
    knowledge_base_version: str
    # The findings as the caller reads them (usecases/patient_words.py).
    shown: tuple[dict[str, Any], ...] = ()


def knowledge_base_version(uow: UnitOfWork, kb: KnowledgeBase) -> str:
    """The curated version, plus the number of imports run into this database."""
    imports = uow.knowledge.import_count()
    return f"{kb.version}+imports.{imports}" if imports else kb.version


def external_key(name: str) -> str:
    return EXTERNAL + normalize(name)


def resolve_name(uow: UnitOfWork, kb: KnowledgeBase, text: str) -> Resolved | Unresolved:
    """Catalog first; then a drug only an imported dataset knows; else suggestions."""
    found = kb.catalog.resolve(text)
    if found is not None:
        return found
    key = external_key(text)
    if uow.knowledge.knows(key):
        return Resolved(
            input=text, entry_id=key, name=text.strip(), ingredients=(key,), in_catalog=False
        )
    return Unresolved(input=text, suggestions=kb.catalog.suggest(text))


def imported_rules(
    uow: UnitOfWork, new: Iterable[Item], current: Iterable[Item] = ()
) -> list[ImportedRule]:
    """Imported pairs that a check of `new` against `current` can report."""
    keys = {i for item in new for i in item.ingredients}
    others = {i for item in current for i in item.ingredients} - keys
    return [
        ImportedRule(
            a=drug_a,
            b=drug_b,
            severity=Severity(severity),
            mechanism=mechanism or "",
            management=management or "",
            sources=(f"import:{dataset}:{source or dataset}",),
        )
        for dataset, drug_a, drug_b, severity, mechanism, management, source in (
            uow.knowledge.pairs_touching(keys, others)
        )
    ]


def regimen_items(
    kb: KnowledgeBase, rows: Iterable[tuple[uuid.UUID, PrescriptionVersion]]
) -> list[Item]:
    """The patient's current drugs as check items (older rows resolve their text)."""
    items: list[Item] = []
    for rx_id, v in rows:
        ingredients = tuple(v.ingredients or ())
        name = v.drug
        if not ingredients:
            found = kb.catalog.resolve(v.drug)
            ingredients = found.ingredients if found else (external_key(v.drug),)
        if v.drug_id is not None and (
            v.drug_id in kb.catalog.drugs or v.drug_id in kb.catalog.products
        ):
            name = kb.catalog.display_name(v.drug_id)
        items.append(
            Item(input=v.drug, name=name, ingredients=ingredients, prescription_id=str(rx_id))
        )
    return items


def taper_notes(uow: UnitOfWork, patient: Patient, now: dt.datetime) -> dict[str, str]:
    """Per prescription being tapered: the daily dose it gives today (the step the
    patient is on) and where the plan goes."""
    zone = zoneinfo.ZoneInfo(patient.timezone)
    notes: dict[str, str] = {}
    for plan, version in uow.tapers.under_way(patient.id):
        planned = taper.TaperPlan.from_json(version.plan)
        day = (plan.paused_at or now).astimezone(zone).date()
        step, last = planned.steps[current_index(planned, day)], planned.steps[-1]
        held = " (held: the plan is paused)" if plan.status == PlanStatus.PAUSED else ""
        notes[str(plan.prescription_id)] = (
            f"Being tapered: {amount_text(step.daily_dose_mg)} mg a day now{held}, "
            f"{amount_text(last.daily_dose_mg)} mg a day from {last.start_date.isoformat()}."
        )
    return notes


def patient_facts(
    uow: UnitOfWork, kb: KnowledgeBase, patient: Patient, now: dt.datetime
) -> PatientFacts:
    """Allergies, pregnancy, coded conditions and today's age, as the checks read them."""
    today = now.astimezone(zoneinfo.ZoneInfo(patient.timezone)).date()
    return PatientFacts(
        allergies=tuple(resolve_allergy(kb, a) for a in patient.allergies),
        pregnant=patient.pregnant,
        conditions=tuple(condition_of(c) for c in uow.record.conditions(patient.id)),
        age=age_on(patient.date_of_birth, today),
    )


def condition_of(row: PatientCondition) -> Condition:
    return Condition(
        code=ConditionCode(row.code),
        child_pugh=row.child_pugh,
        egfr=Decimal(row.egfr) if row.egfr is not None else None,
    )


def reported_items(kb: KnowledgeBase, products: Iterable[ReportedProduct]) -> list[Item]:
    """What the patient reports taking, as check items (an unlisted product by its name)."""
    return [
        Item(
            input=p.text,
            name=p.drug_name or p.text,
            ingredients=tuple(p.ingredients or (external_key(p.text),)),
            reported_product_id=str(p.id),
        )
        for p in products
    ]


def patient_items(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    patient: Patient,
    now: dt.datetime,
    *,
    exclude: uuid.UUID | None = None,
) -> list[Item]:
    """The patient's current drugs: prescriptions not discontinued (with where a taper
    has them) and the products they report taking."""
    rows = [(rx.id, v) for rx, v in uow.prescriptions.regimen(patient.id) if rx.id != exclude]
    tapers = taper_notes(uow, patient, now)
    prescribed = [
        replace(item, taper=tapers.get(item.prescription_id or ""))
        for item in regimen_items(kb, rows)
    ]
    return [*prescribed, *reported_items(kb, uow.record.products(patient.id))]


def run_check(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    new: Sequence[Item],
    patient: Patient | None,
    now: dt.datetime,
    exclude: uuid.UUID | None = None,
) -> list[Finding]:
    """Check new items against each other and, for a patient, their current drugs,
    allergies, conditions and age (`exclude`: a prescription the new item replaces)."""
    current = patient_items(uow, kb, patient, now, exclude=exclude) if patient else []
    return check(
        kb,
        new=new,
        current=current,
        patient=patient_facts(uow, kb, patient, now) if patient else None,
        imported=imported_rules(uow, new, current),
    )


def check_interactions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    drugs: Sequence[str],
    patient_id: uuid.UUID | None,
) -> CheckResult:
    """Check drugs by name; with a patient, also against their regimen and record."""
    who = caller.require()
    problems = Problems()
    for i, name in enumerate(drugs):
        problem = name_problem(name)
        if problem:
            problems.add(f"drugs.{i}", problem)
    with domain_rules("A drug name is not safe to check."):
        problems.raise_if_any()
    # Without a patient nothing is written (no audit of a record read), so the
    # check needs no transaction.
    with uow if patient_id is not None else uow.read_only() as uow:
        patient = None
        if patient_id is not None:
            ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
            patient = ctx.patient
        elif who.role is Role.ADMIN:
            raise Forbidden("Interaction checks are for clinicians and patients.")
        names = [resolve_name(uow, kb, d) for d in drugs]
        resolved = [n for n in names if isinstance(n, Resolved)]
        new = [Item(input=r.input, name=r.name, ingredients=r.ingredients) for r in resolved]
        findings = run_check(uow, kb, new=new, patient=patient, now=clock())
        version = knowledge_base_version(uow, kb)
        if patient_id is not None:
            record_read(
                uow,
                caller=caller,
                clock=clock,
                subtype="interaction.check",
                entity_type="Patient",
                patient_id=patient_id,
                entity_id=patient_id,
            )
        # Summaries in the patient's language: the one checked, or the caller's own.
        reader = patient or (uow.patients.get(who.patient_id) if who.patient_id else None)
        locale = reader.locale if reader else None
        return CheckResult(
            findings=findings,
            resolved=resolved,
            unresolved=[n for n in names if isinstance(n, Unresolved)],
            knowledge_base_version=version,
            shown=findings_for(who, (finding_json(kb, f) for f in findings), locale=locale),
        )
