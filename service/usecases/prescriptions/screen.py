"""What prescribing would find: the checks every new prescription goes through (its
terms, its drug resolved and its form, the patient's whole record screened against
it), shared by prescribing itself and by a screen of a candidate prescription that
stores nothing, so that a prescriber sees each finding, and the answer it needs,
before sending it (docs/clinical.md, "Interaction checking")."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Any

from service.db.tables import Patient
from service.db.uow import UnitOfWork
from service.domain.catalog import Resolved
from service.domain.interactions import Finding, Kind, KnowledgeBase
from service.domain.prescriptions import PrescriptionTerms, validate_terms
from service.domain.severity import Severity
from service.usecases.access import load_writable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import InteractionConflict, domain_rules
from service.usecases.interactions import knowledge_base_version
from service.usecases.prescribing import Screened, check_form, resolve_prescribed, screen
from service.usecases.screening import Screening, blocking, finding_json


def valid_terms(terms: PrescriptionTerms) -> PrescriptionTerms:
    """The terms in canonical form, or ValidationFailed naming every bad field."""
    with domain_rules("The prescription is not valid."):
        return validate_terms(terms)


@dataclass(frozen=True, kw_only=True)
class Examined:
    """What a prescribed drug resolved to (None if a confirmed unlisted drug) and
    the findings of the patient's record against it."""

    drug: Resolved | None
    screened: Screened


def examine(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    patient: Patient,
    terms: PrescriptionTerms,
    screening: Screening,
    now: dt.datetime,
) -> Examined:
    """The drug resolved (422 with suggestions when the catalog does not know it and
    it is not confirmed as unlisted), its route, unit and stated strength checked,
    and the patient's whole record screened against it."""
    drug = resolve_prescribed(uow, kb, terms.drug, screening)
    check_form(kb, drug, terms)
    screened = screen(uow, kb, patient=patient, drug=drug, terms=terms, now=now)
    return Examined(drug=drug, screened=screened)


class Requirement(enum.StrEnum):
    """What a finding needs from the prescriber before the prescription is stored."""

    OVERRIDE = "override"
    ACKNOWLEDGE = "acknowledge"
    NONE = "none"


def requirement(severity: Severity) -> Requirement:
    """The answer a finding of this severity needs, read off `blocking` (the one home
    of the rule): none, an acknowledgement of its id, or an override with a reason."""
    probe = Finding(
        id="probe",
        kind=Kind.DRUG_DRUG,
        severity=severity,
        drugs=(),
        rule="",
        rules=(),
        classes=(),
        mechanism="",
        effect="",
        management="",
        sources=(),
    )
    if not blocking([probe], Screening()):
        return Requirement.NONE
    if not blocking([probe], Screening(acknowledge=frozenset({probe.id}))):
        return Requirement.ACKNOWLEDGE
    return Requirement.OVERRIDE


@dataclass(frozen=True, kw_only=True)
class ScreenedFinding:
    """A finding as the API returns it, what it needs, and whether the answers sent
    leave it unanswered (so that prescribing would be refused)."""

    detail: dict[str, Any]
    requires: Requirement
    unanswered: bool


@dataclass(frozen=True, kw_only=True)
class PrescriptionScreen:
    """What prescribing these terms would find, most severe first."""

    drug_id: str | None
    drug_name: str | None
    partial: bool
    findings: list[ScreenedFinding]
    knowledge_base_version: str

    @property
    def refused(self) -> bool:
        return any(f.unanswered for f in self.findings)


def screen_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    terms: PrescriptionTerms,
    screening: Screening | None = None,
) -> PrescriptionScreen:
    """Every finding `create_prescription` would raise for these terms and answers,
    without storing the prescription. Refused as prescribing is (the same access
    rule, 422 for invalid terms or an unknown drug); the screen reads the patient's
    record and is audited as an interaction check of it is."""
    now = clock()
    screening = screening or Screening()
    terms = valid_terms(terms)
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        examined = examine(uow, kb, patient=ctx.patient, terms=terms, screening=screening, now=now)
        version = knowledge_base_version(uow, kb)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="interaction.check",
            entity_type="Patient",
            patient_id=patient_id,
            entity_id=patient_id,
        )
    findings = examined.screened.findings
    refused = blocking(findings, screening)
    return PrescriptionScreen(
        drug_id=examined.drug.entry_id if examined.drug else None,
        drug_name=examined.drug.name if examined.drug else None,
        partial=examined.screened.partial,
        findings=[
            ScreenedFinding(
                detail=finding_json(kb, f),
                requires=requirement(f.severity),
                unanswered=f in refused,
            )
            for f in findings
        ],
        knowledge_base_version=version,
    )


def conflict_findings(error: InteractionConflict) -> list[ScreenedFinding]:
    """The findings a refused prescription must answer, as a screen shows them."""
    return [
        ScreenedFinding(
            detail=detail, requires=requirement(Severity(detail["severity"])), unanswered=True
        )
        for detail in error.findings
    ]
