"""Prescribing: a new prescription, stored after the patient's whole record is
screened against the drug."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from service.db.tables import Patient, Prescription
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.catalog import Resolved
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Change, PrescriptionTerms, ScreeningScope, Status
from service.usecases.access import load_writable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.interactions import knowledge_base_version
from service.usecases.planning import plan
from service.usecases.prescribing import Screened
from service.usecases.prescriptions.findings import (
    answers,
    audit_screening,
    audit_unlisted,
    refuse_unanswered,
    store_findings,
)
from service.usecases.prescriptions.screen import examine, valid_terms
from service.usecases.prescriptions.versions import VersionChange, VersionFacts, version_row
from service.usecases.prescriptions.views import (
    PrescriptionRecord,
    prescription_record,
    shown_to,
)
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.rescreening import rescreen
from service.usecases.screening import Screening


@dataclass(frozen=True, kw_only=True)
class _Prescribed:
    """A prescription about to be stored: its terms, what its drug resolved to (None
    if unlisted), the screening's findings and how the prescriber answered them."""

    patient_id: uuid.UUID
    terms: PrescriptionTerms
    drug: Resolved | None
    screened: Screened
    screening: Screening
    by: uuid.UUID
    now: dt.datetime


def create_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    terms: PrescriptionTerms,
    screening: Screening | None = None,
    policy: ReminderPolicy = DEFAULT_POLICY,
) -> PrescriptionRecord:
    """Prescribe after screening the patient's whole record against the drug; see
    `Screening` for how findings gate it."""
    now = clock()
    screening = screening or Screening()
    terms = valid_terms(terms)
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        uow.record.serialise(patient_id)
        prescribed = _screened(
            uow, kb, caller=caller, patient=ctx.patient, terms=terms, screening=screening, now=now
        )
        rec = _store(uow, kb, caller, prescribed)
        rescreen(
            uow,
            kb,
            caller=caller,
            patient=ctx.patient,
            now=now,
            cause="prescription.create",
            answered=answers(prescribed.screened.findings, screening, prescribed.by),
        )
        plan(uow, kb, policy, now=now, patient_id=patient_id)
        uow.commit()
        return shown_to(caller.require(), rec, locale=ctx.patient.locale)


def _screened(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    caller: Caller,
    patient: Patient,
    terms: PrescriptionTerms,
    screening: Screening,
    now: dt.datetime,
) -> _Prescribed:
    """The drug resolved and its form checked, and the patient's record screened
    against it; refused while a finding that needs an answer has none."""
    examined = examine(uow, kb, patient=patient, terms=terms, screening=screening, now=now)
    refuse_unanswered(
        uow,
        kb,
        examined.screened.findings,
        screening,
        message="The prescription has findings that need an override or an acknowledgement.",
    )
    return _Prescribed(
        patient_id=patient.id,
        terms=terms,
        drug=examined.drug,
        screened=examined.screened,
        screening=screening,
        by=caller.require().user_id,
        now=now,
    )


def _store(
    uow: UnitOfWork, kb: KnowledgeBase, caller: Caller, p: _Prescribed
) -> PrescriptionRecord:
    """Store the prescription at version 1 with its findings, and audit it."""
    rx = Prescription(
        patient_id=p.patient_id,
        status=Status.ACTIVE.value,
        current_version=1,
        created_by=p.by,
        created_at=p.now,
        updated_at=p.now,
    )
    version = version_row(
        rx.id,
        1,
        drug_id=p.drug.entry_id if p.drug and p.drug.in_catalog else None,
        # An unlisted drug keeps what its name revealed, so that its withdrawal
        # risk and interactions still count on every later change.
        ingredients=p.screened.item.ingredients or None,
        what=VersionChange(
            terms=p.terms,
            status=Status.ACTIVE,
            change=Change.CREATE.value,
            reason=None,
            by=p.by,
            now=p.now,
            facts=_facts(p),
        ),
    )
    uow.prescriptions.add(rx, version)
    stored = store_findings(
        uow,
        kb,
        rx=rx,
        findings=p.screened.findings,
        screening=p.screening,
        label=knowledge_base_version(uow, kb),
        by=p.by,
        now=p.now,
    )
    _audit(uow, caller, rx, prescription_record(rx, version), p)
    return prescription_record(rx, version, stored)


def _facts(p: _Prescribed) -> VersionFacts:
    """The drug's name and how far it could be screened, kept on every later version."""
    partial = p.screened.partial
    return VersionFacts(
        drug_name=p.drug.name if p.drug else None,
        screening=(ScreeningScope.PARTIAL if partial else ScreeningScope.FULL).value,
        unlisted_reason=(p.screening.unlisted_reason or "").strip() or None if partial else None,
    )


def _audit(
    uow: UnitOfWork, caller: Caller, rx: Prescription, audited: PrescriptionRecord, p: _Prescribed
) -> None:
    """The new prescription, then how its findings were answered and, for a drug the
    catalog could not screen in full, who confirmed it."""
    record(
        uow,
        caller=caller,
        now=p.now,
        action=AuditAction.CREATE,
        subtype="prescription.create",
        entity_type="Prescription",
        entity_id=rx.id,
        patient_id=p.patient_id,
        after=audited,
    )
    findings = p.screened.findings
    audit_screening(uow, caller=caller, now=p.now, rx=rx, findings=findings, screening=p.screening)
    if p.screened.partial:
        audit_unlisted(uow, caller=caller, now=p.now, rec=audited, findings=findings)
