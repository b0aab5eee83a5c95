"""The findings of a new or changed prescription: refused until answered, stored
with how the prescriber answered each, and audited (docs/clinical.md,
"Interaction checking")."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from service.db.tables import Patient, Prescription, PrescriptionFinding, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.catalog import Resolved
from service.domain.findings import Answer
from service.domain.interactions import Finding, Item, Kind, KnowledgeBase
from service.domain.prescriptions import PrescriptionTerms
from service.usecases.audit import record
from service.usecases.context import Caller
from service.usecases.errors import InteractionConflict
from service.usecases.interactions import knowledge_base_version, patient_facts
from service.usecases.prescribing import dose_findings
from service.usecases.prescriptions.views import PrescriptionRecord
from service.usecases.rescreening import Answered
from service.usecases.screening import Screening, blocking, finding_json, resolution


def refuse_unanswered(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    findings: Sequence[Finding],
    screening: Screening,
    *,
    message: str,
) -> None:
    """Refuse the change while a finding that needs an override or an
    acknowledgement has neither."""
    refused = blocking(findings, screening)
    if refused:
        raise InteractionConflict(
            message,
            findings=[finding_json(kb, f) for f in refused],
            knowledge_base_version=knowledge_base_version(uow, kb),
        )


def store_findings(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    rx: Prescription,
    findings: Sequence[Finding],
    screening: Screening,
    label: str,
    by: uuid.UUID,
    now: dt.datetime,
) -> list[PrescriptionFinding]:
    """The findings raised by this version, with how the prescriber answered each."""
    stored = [
        PrescriptionFinding(
            prescription_id=rx.id,
            finding_id=f.id,
            kind=f.kind.value,
            severity=f.severity.value,
            resolution=resolution(f, screening).value,
            reason=screening.override_reason if f in screening.overridden([f]) else None,
            knowledge_base_version=label,
            detail=finding_json(kb, f),
            created_by=by,
            created_at=now,
        )
        for f in findings
    ]
    uow.prescriptions.add_findings(stored)
    return stored


def audit_screening(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    findings: Sequence[Finding],
    screening: Screening,
) -> None:
    """One audit entry per override or acknowledgement, naming the findings it answered."""
    for subtype, picked in (
        ("prescription.interaction-override", screening.overridden(findings)),
        ("prescription.interaction-acknowledge", screening.acknowledged(findings)),
    ):
        if not picked:
            continue
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype=subtype,
            entity_type="Prescription",
            entity_id=rx.id,
            patient_id=rx.patient_id,
            after={
                "findings": [
                    {"id": f.id, "kind": f.kind.value, "severity": f.severity.value, "rule": f.rule}
                    for f in picked
                ],
                "reason": screening.override_reason,
                "unlisted_drug_confirmed": screening.confirm_unlisted,
            },
        )


def audit_unlisted(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rec: PrescriptionRecord,
    findings: Sequence[Finding],
) -> None:
    """A prescription the catalog could not screen in full: who confirmed it, why, and
    which checks could not run."""
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="prescription.unlisted-confirm",
        entity_type="Prescription",
        entity_id=rec.id,
        patient_id=rec.patient_id,
        after={
            "drug": rec.drug,
            "unlisted_reason": rec.unlisted_reason,
            "screening": rec.screening,
            "not_checked": [f.mechanism for f in findings if f.kind is Kind.PARTIAL_SCREENING],
        },
    )


def answers(
    findings: Sequence[Finding], screening: Screening, by: uuid.UUID
) -> dict[str, Answered]:
    """The findings the prescriber answered with this change, as the record keeps them."""
    answered = {
        f.id: Answered(by=by, reason="Acknowledged when prescribed.")
        for f in screening.acknowledged(findings)
    }
    for f in screening.overridden(findings):
        answered[f.id] = Answered(
            by=by, reason=screening.override_reason or "Overridden.", answer=Answer.OVERRIDDEN
        )
    return answered


def resolved_drug(kb: KnowledgeBase, v: PrescriptionVersion) -> Resolved | None:
    """What the version's drug resolved to when it was prescribed (None if unlisted)."""
    if v.drug_id is None or (
        v.drug_id not in kb.catalog.drugs and v.drug_id not in kb.catalog.products
    ):
        return None
    return Resolved(
        input=v.drug,
        entry_id=v.drug_id,
        name=v.drug_name or kb.catalog.display_name(v.drug_id),
        ingredients=tuple(v.ingredients or ()),
    )


def revised_dose_findings(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    patient: Patient,
    current: PrescriptionVersion,
    terms: PrescriptionTerms,
    now: dt.datetime,
) -> list[Finding]:
    """The dose-range findings of revised terms (the drug and its interactions are
    unchanged by a revision)."""
    drug = resolved_drug(kb, current)
    if drug is None:
        return []
    item = Item(input=terms.drug, name=drug.name, ingredients=drug.ingredients)
    return dose_findings(kb, item=item, terms=terms, patient=patient_facts(uow, kb, patient, now))
