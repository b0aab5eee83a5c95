"""The CDS Hooks service's check of an EHR's draft orders (docs/interop.md, "CDS
Hooks"): the same interaction checker as /v1 (service.domain.interactions.check, fed
by service.usecases.interactions), against the patient's current medications as the
EHR prefetched them and, when the EHR's patient is linked to a medtrack patient by an
identifier, against medtrack's record of them; and the abrupt-stop rule
(service.domain.abrupt_stop) for a draft that stops a withdrawal-risk drug.

The caller is a CDS client (an EHR), not a medtrack account: it reads a linked
patient's record only through this check, and each check is audited."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.db.tables import CdsCard, Patient
from service.db.uow import UnitOfWork
from service.domain.abrupt_stop import AbruptStop, status_stop, suggested_taper
from service.domain.audit import AuditAction
from service.domain.catalog import Drug, Resolved
from service.domain.interactions import Finding, Item, KnowledgeBase, check
from service.usecases.abrupt_stop import SOURCES as ABRUPT_STOP_SOURCES
from service.usecases.audit import record, storable
from service.usecases.context import Caller, Clock
from service.usecases.interactions import (
    imported_rules,
    knowledge_base_version,
    patient_facts,
    patient_items,
)
from service.usecases.screening import describe, finding_json

AGENT = "cds-hooks"


@dataclass(frozen=True, kw_only=True)
class Medication:
    """A medication as the EHR sent it: its text, what the catalog made of it (None if
    nothing), the codes and names that did not resolve, and its resource reference."""

    text: str
    resolved: Resolved | None
    unknown: tuple[str, ...] = ()
    ref: str | None = None
    # A draft that stops the drug (MedicationRequest.status stopped or cancelled).
    stops: bool = False


@dataclass(frozen=True, kw_only=True)
class HookCall:
    client: str
    patient_system: str | None
    hook: str
    hook_instance: str
    ehr_patient: str | None
    # (system, value) of the identifiers in the prefetched Patient.
    identifiers: tuple[tuple[str, str], ...]
    drafts: tuple[Medication, ...]
    # The prefetched current medications; None when the EHR sent none.
    prefetched: tuple[Medication, ...] | None


@dataclass(frozen=True, kw_only=True)
class StopRisk:
    """A draft that stops a drug which must be tapered rather than stopped."""

    draft: Medication
    drug: Drug
    prescription_id: uuid.UUID | None = None
    guard: AbruptStop | None = None
    taper: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class Assessment:
    patient_id: uuid.UUID | None
    # Linked identifiers named more than one medtrack patient: none was used.
    ambiguous: bool
    # Whether the patient's current medications were known (prefetched or linked).
    saw_current: bool
    findings: list[Finding]
    shown: list[dict[str, Any]]
    # Per finding id: the references of the drafts it concerns.
    drafts_of: dict[str, list[str]]
    stops: list[StopRisk]
    unresolved: list[Medication]
    unresolved_current: list[Medication]
    knowledge_base_version: str
    stop_sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class IssuedCard:
    uuid: uuid.UUID
    indicator: str
    summary: str
    finding_id: str | None
    body: dict[str, Any]


def _item(m: Medication) -> Item:
    assert m.resolved is not None
    return Item(input=m.text, name=m.resolved.name, ingredients=m.resolved.ingredients)


def _linked(uow: UnitOfWork, call: HookCall) -> tuple[Patient | None, bool]:
    """The medtrack patient the call is about: only through an identifier under the
    calling client's own identifier system (its `patient_system`), never another's,
    so that one EHR cannot look up a patient another EHR linked. A client without a
    system links no one."""
    system = call.patient_system
    if not system:
        return None, False
    pairs = [(s, v) for s, v in call.identifiers if s == system]
    if call.ehr_patient:
        pairs.insert(0, (system, call.ehr_patient))
    found = uow.interop.linked_patients(pairs)
    if len(found) != 1:
        return None, len(found) > 1
    return uow.patients.get(found[0]), False


def _stop_risk(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    draft: Medication,
    current: Sequence[Item],
    patient: Patient | None,
    now: dt.datetime,
) -> StopRisk | None:
    """The abrupt-stop rule for a draft that stops a drug: a withdrawal-risk drug the
    patient takes (when their medications are known), with the guard /v1 applies to
    discontinuing it, whether or not a taper of it is under way (stopping mid-taper
    is as abrupt as stopping before one)."""
    assert draft.resolved is not None
    risky = kb.catalog.withdrawal_risks(draft.resolved.ingredients)
    ingredients = set(draft.resolved.ingredients)
    if not risky:
        return None
    if current and not any(ingredients & set(i.ingredients) for i in current):
        return None
    if patient is None:
        return StopRisk(draft=draft, drug=risky[0])
    for rx, version in uow.prescriptions.regimen(patient.id):
        if not ingredients & set(version.ingredients or ()):
            continue
        terms = version.terms()
        today = now.astimezone(zoneinfo.ZoneInfo(patient.timezone)).date()
        return StopRisk(
            draft=draft,
            drug=risky[0],
            prescription_id=rx.id,
            guard=status_stop(terms, discontinue=True),
            taper=suggested_taper(terms, risky[0].id, today + dt.timedelta(days=1)),
        )
    return StopRisk(draft=draft, drug=risky[0])


def _origin(item: Item, drafts: Mapping[int, Medication]) -> str:
    if id(item) in drafts:
        return "draft"
    if item.prescription_id is not None:
        return "medtrack-prescription"
    if item.reported_product_id is not None:
        return "medtrack-reported-product"
    return "ehr-medication"


def _shown(kb: KnowledgeBase, f: Finding, drafts: Mapping[int, Medication]) -> dict[str, Any]:
    """The finding as /v1 gives it, each drug saying where it came from: a draft order,
    medtrack's record, or the EHR's list of current medications."""
    shown = finding_json(kb, f)
    for drug, item in zip(shown["drugs"], f.drugs, strict=True):
        drug["origin"] = _origin(item, drafts)
    return shown


def _assess(uow: UnitOfWork, kb: KnowledgeBase, call: HookCall, now: dt.datetime) -> Assessment:
    patient, ambiguous = _linked(uow, call)
    prefetched = [m for m in call.prefetched or () if m.resolved is not None]
    current = [_item(m) for m in prefetched]
    if patient is not None:
        own = patient_items(uow, kb, patient, now)
        covered = {i for item in own for i in item.ingredients}
        current = [*own, *(i for i in current if not set(i.ingredients) <= covered)]
    checked = [d for d in call.drafts if d.resolved is not None and not d.stops]
    new = [_item(d) for d in checked]
    # Each draft's check item, by identity: findings hold the very items checked.
    by_item = {id(item): d for item, d in zip(new, checked, strict=True)}
    findings = check(
        kb,
        new=new,
        current=current,
        patient=patient_facts(uow, kb, patient, now) if patient else None,
        imported=imported_rules(uow, new, current),
    )
    drafts_of = {
        f.id: [by_item[id(d)].ref or by_item[id(d)].text for d in f.drugs if id(d) in by_item]
        for f in findings
    }
    stops = [
        risk
        for d in call.drafts
        if d.stops and d.resolved is not None
        for risk in [_stop_risk(uow, kb, d, current, patient, now)]
        if risk is not None
    ]
    return Assessment(
        patient_id=patient.id if patient else None,
        ambiguous=ambiguous,
        saw_current=call.prefetched is not None or patient is not None,
        findings=findings,
        shown=[_shown(kb, f, by_item) for f in findings],
        drafts_of=drafts_of,
        stops=stops,
        unresolved=[d for d in call.drafts if d.resolved is None],
        unresolved_current=[m for m in call.prefetched or () if m.resolved is None],
        knowledge_base_version=knowledge_base_version(uow, kb),
        stop_sources=[describe(kb, s) for s in ABRUPT_STOP_SOURCES],
    )


def check_orders(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    call: HookCall,
    render: Callable[[Assessment], Sequence[IssuedCard]],
) -> list[IssuedCard]:
    """Check the drafts, turn the assessment into cards (`render`, the entrypoint's),
    keep each card for its feedback, and audit the call: under the patient when the
    EHR's patient is linked, since their record here was read."""
    with uow:
        now = clock()
        assessment = _assess(uow, kb, call, now)
        cards = list(render(assessment))
        uow.interop.add_cards(
            [
                CdsCard(
                    uuid=c.uuid,
                    client=call.client,
                    hook=call.hook,
                    hook_instance=storable(call.hook_instance),
                    patient_id=assessment.patient_id,
                    ehr_patient=storable(call.ehr_patient) if call.ehr_patient else None,
                    indicator=c.indicator,
                    summary=storable(c.summary)[:200],
                    finding_id=c.finding_id,
                    issued_at=now,
                )
                for c in cards
            ]
        )
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.READ if assessment.patient_id else AuditAction.EXECUTE,
            subtype="cds.check",
            entity_type="Patient" if assessment.patient_id else "CdsHook",
            entity_id=assessment.patient_id,
            patient_id=assessment.patient_id,
            after={
                "client": call.client,
                "hook": call.hook,
                "hook_instance": call.hook_instance,
                "ehr_patient": call.ehr_patient,
                "cards": [str(c.uuid) for c in cards],
            },
        )
        uow.commit()
        return cards
