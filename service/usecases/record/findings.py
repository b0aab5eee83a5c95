"""The findings of the record's latest screening (docs/clinical.md, "Re-screening of
the whole record"), and a clinician's acknowledgement of one."""

from __future__ import annotations

import uuid
from dataclasses import replace

from service.db.uow import UnitOfWork
from service.domain.findings import Answer
from service.domain.pages import Page, sliced
from service.domain.severity import Severity
from service.usecases.access import load_readable_patient, load_writable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, NotFound
from service.usecases.patient_words import finding_for, reason_for
from service.usecases.record.parts import audit_change
from service.usecases.record.views import FindingView, finding_view


def list_findings(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int = 50,
    offset: int = 0,
) -> Page[FindingView]:
    """The findings the latest screening of the whole record holds, most severe first;
    a patient reads them in their words (usecases/patient_words.py)."""
    who = caller.require()
    with uow:
        locale = load_readable_patient(uow, caller=caller, patient_id=patient_id).patient.locale
        rows = uow.record.open_findings(patient_id)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="finding.list",
            entity_type="PatientFinding",
            patient_id=patient_id,
        )
    views = sorted((finding_view(r) for r in rows), key=_severity_order)
    return sliced(views, limit=limit, offset=offset).map(
        lambda v: replace(
            v,
            detail=finding_for(who, v.detail, locale=locale),
            acknowledged_reason=reason_for(who, v.acknowledged_reason),
        )
    )


def _severity_order(v: FindingView) -> tuple[int, str, str]:
    return (Severity(v.severity).rank, v.kind, v.id)


def acknowledge_finding(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    finding_id: str,
    reason: str,
) -> FindingView:
    """A clinician on the care team has read the finding and says why the regimen
    stands (audited)."""
    now = clock()
    with uow:
        load_writable_patient(uow, caller=caller, patient_id=patient_id)
        row = next(
            (
                r
                for r in uow.record.open_findings(patient_id, for_update=True)
                if r.finding_id == finding_id
            ),
            None,
        )
        if row is None:
            raise NotFound(f"No current finding {finding_id} for this patient.")
        if row.acknowledged_at is not None:
            raise Conflict("This finding has already been acknowledged.")
        before = finding_view(row)
        row.acknowledged_by = caller.require().user_id
        row.acknowledged_at = now
        row.acknowledged_reason = reason
        row.acknowledged_as = Answer.ACKNOWLEDGED.value
        uow.record.touch([row])
        after = finding_view(row)
        audit_change(
            uow,
            caller,
            now,
            subtype="finding.acknowledge",
            entity="PatientFinding",
            entity_id=row.id,
            patient_id=patient_id,
            before={k: v for k, v in vars(before).items() if k != "detail"},
            after={k: v for k, v in vars(after).items() if k != "detail"},
        )
        uow.commit()
        return after
