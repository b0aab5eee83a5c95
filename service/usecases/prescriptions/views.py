"""A prescription as clients and the audit trail see it: one version with the
findings stored with the prescription."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from service.db.tables import Prescription, PrescriptionFinding, PrescriptionVersion
from service.domain.accounts import Principal
from service.domain.prescriptions import Dose, Schedule
from service.usecases.patient_words import findings_for, reason_for


@dataclass(frozen=True, kw_only=True)
class PrescriptionRecord:
    """One version of a prescription as clients see it."""

    id: uuid.UUID
    patient_id: uuid.UUID
    version: int
    status: str
    drug: str
    drug_id: str | None
    drug_name: str | None
    ingredients: tuple[str, ...]
    screening: str
    unlisted_reason: str | None
    dose: Dose
    route: str
    schedule: Schedule
    start_date: dt.date
    end_date: dt.date | None
    instructions: str | None
    change: str
    reason: str | None
    abrupt_stop_reason: str | None
    resume_on: dt.date | None
    created_by: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    findings: tuple[dict[str, Any], ...] = ()
    # The taper plan in progress (draft, approved, active or paused), if any: filled
    # in where a prescription is read; the audit trail keeps it with the plan's own
    # entries, so its snapshots of a prescription leave it null.
    taper_plan_id: uuid.UUID | None = None


def prescription_record(
    rx: Prescription,
    v: PrescriptionVersion,
    findings: Sequence[PrescriptionFinding] = (),
    *,
    taper_plan_id: uuid.UUID | None = None,
) -> PrescriptionRecord:
    """Version `v` of `rx`; without `findings`, as the audit trail keeps it (findings
    have their own entries)."""
    t = v.terms()
    return PrescriptionRecord(
        id=rx.id,
        patient_id=rx.patient_id,
        version=v.version,
        status=v.status,
        drug=t.drug,
        drug_id=v.drug_id,
        drug_name=v.drug_name,
        ingredients=tuple(v.ingredients or ()),
        screening=v.screening,
        unlisted_reason=v.unlisted_reason,
        findings=tuple(_finding_out(f) for f in findings),
        dose=t.dose,
        route=t.route,
        schedule=t.schedule,
        start_date=t.start_date,
        end_date=t.end_date,
        instructions=t.instructions,
        change=v.change,
        reason=v.reason,
        abrupt_stop_reason=v.abrupt_stop_reason,
        resume_on=v.resume_on,
        created_by=v.created_by,
        created_at=rx.created_at,
        updated_at=v.created_at,
        taper_plan_id=taper_plan_id,
    )


def _finding_out(f: PrescriptionFinding) -> dict[str, Any]:
    return {
        **f.detail,
        "resolution": f.resolution,
        "reason": f.reason,
        "knowledge_base_version": f.knowledge_base_version,
    }


def shown_to(who: Principal, rec: PrescriptionRecord, *, locale: str | None) -> PrescriptionRecord:
    """The record as this caller reads it: a patient gets the findings in their words
    and none of the prescriber's reasons (usecases/patient_words.py)."""
    return replace(
        rec,
        findings=findings_for(who, rec.findings, locale=locale),
        reason=reason_for(who, rec.reason),
        abrupt_stop_reason=reason_for(who, rec.abrupt_stop_reason),
        unlisted_reason=reason_for(who, rec.unlisted_reason),
    )
