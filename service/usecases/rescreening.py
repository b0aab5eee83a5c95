"""Re-screening the patient's whole record (docs/clinical.md, "Re-screening of the
whole record").

Any change to what the checks read (allergies, pregnancy, date of birth, coded
conditions, products the patient reports, or the regimen) screens every current
drug again. The findings in force are kept one row each; a finding no longer found
is marked resolved, never deleted. A new contraindicated or major finding that the
prescriber did not just answer reaches the care team.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.db.outbox import queued
from service.db.tables import Patient, PatientFinding
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.dose_checks import dose_range_findings
from service.domain.findings import Answer
from service.domain.interactions import Finding, KnowledgeBase, by_severity, check
from service.domain.messages import MessageKind
from service.domain.severity import Severity
from service.usecases.audit import record
from service.usecases.context import SCHEDULER, Caller, Clock
from service.usecases.interactions import (
    imported_rules,
    knowledge_base_version,
    patient_facts,
    regimen_items,
    reported_items,
)
from service.usecases.screening import finding_json

log = logging.getLogger("medtrack.rescreening")


@dataclass(frozen=True, kw_only=True)
class Answered:
    """A finding the prescriber answered as the change was made (acknowledged or
    overridden): recorded as acknowledged by them, and not sent to the care team."""

    by: uuid.UUID
    reason: str
    answer: Answer = Answer.ACKNOWLEDGED


def current_findings(
    uow: UnitOfWork, kb: KnowledgeBase, patient: Patient, now: dt.datetime
) -> list[Finding]:
    """Every finding of the record as it stands: each pair of current drugs (reported
    products included), each drug against allergies, conditions and age, and each
    prescription's dose against the label's maximum."""
    facts = patient_facts(uow, kb, patient, now)
    rows = uow.prescriptions.regimen(patient.id)
    prescribed = regimen_items(kb, ((rx.id, v) for rx, v in rows))
    items = [*prescribed, *reported_items(kb, uow.record.products(patient.id))]
    found = check(kb, new=items, patient=facts, imported=imported_rules(uow, items))
    for (_, v), item in zip(rows, prescribed, strict=True):
        terms = v.terms()
        found += dose_range_findings(
            kb,
            item=item,
            dose=terms.dose,
            route=terms.route,
            schedule=terms.schedule,
            conditions=facts.conditions,
        )
    return by_severity(found)


def rescreen(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    caller: Caller,
    patient: Patient,
    now: dt.datetime,
    cause: str,
    answered: Mapping[str, Answered] | None = None,
) -> list[PatientFinding]:
    """Bring the patient's findings up to date; returns the ones newly found."""
    answered = answered or {}
    uow.record.serialise(patient.id)  # taken already by the change; held to commit
    found = {f.id: f for f in current_findings(uow, kb, patient, now)}
    held = {r.finding_id: r for r in uow.record.open_findings(patient.id, for_update=True)}
    gone = [r for fid, r in held.items() if fid not in found]
    for row in gone:
        row.resolved_at = now
    label = knowledge_base_version(uow, kb)
    new = [
        _row(kb, patient, f, label=label, cause=cause, now=now, answer=answered.get(fid))
        for fid, f in found.items()
        if fid not in held
    ]
    patient.screened_at, patient.screened_with = now, label
    uow.record.touch([*gone, *new, patient])
    _tell_care_team(uow, patient, [r for r in new if r.acknowledged_at is None], now)
    if new or gone:
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.UPDATE,
            subtype="patient.rescreen",
            entity_type="Patient",
            entity_id=patient.id,
            patient_id=patient.id,
            after={
                "cause": cause,
                "knowledge_base_version": label,
                "found": [_brief(r) for r in new],
                "resolved": [_brief(r) for r in gone],
            },
        )
    return new


def _row(
    kb: KnowledgeBase,
    patient: Patient,
    f: Finding,
    *,
    label: str,
    cause: str,
    now: dt.datetime,
    answer: Answered | None,
) -> PatientFinding:
    return PatientFinding(
        patient_id=patient.id,
        finding_id=f.id,
        kind=f.kind.value,
        severity=f.severity.value,
        detail=finding_json(kb, f),
        knowledge_base_version=label,
        cause=cause,
        found_at=now,
        acknowledged_by=answer.by if answer else None,
        acknowledged_at=now if answer else None,
        acknowledged_reason=answer.reason if answer else None,
        acknowledged_as=answer.answer.value if answer else None,
    )


def _brief(r: PatientFinding) -> dict[str, Any]:
    return {"finding_id": r.finding_id, "kind": r.kind, "severity": r.severity}


def _tell_care_team(
    uow: UnitOfWork, patient: Patient, rows: Sequence[PatientFinding], now: dt.datetime
) -> None:
    serious = [r for r in rows if Severity(r.severity).at_least(Severity.MAJOR)]
    if not serious:
        return
    team = uow.patients.care_teams([patient.id])[patient.id]
    if not team:
        return
    messages = [
        queued(
            key=f"{MessageKind.REGIMEN_FINDING}:{r.id}:{clinician}",
            kind=MessageKind.REGIMEN_FINDING,
            recipient_id=clinician,
            patient_id=patient.id,
            dose_event_id=None,
            due_at=now,
            now=now,
            payload=_payload(patient, r),
        )
        for r in serious
        for clinician in team
    ]
    uow.outbox.add_messages(messages)
    for r in serious:
        r.care_team_notified_at = now
    uow.record.touch(serious)


def _payload(patient: Patient, r: PatientFinding) -> dict[str, Any]:
    drugs = " and ".join(d["resolved"] for d in r.detail.get("drugs", ()))
    what = r.detail.get("condition") or r.detail.get("allergy")
    about = f"{drugs} ({what})" if what else drugs
    return {
        "title": f"New {r.severity} finding",
        "body": f"{r.kind} on the regimen: {about}. {r.detail.get('effect', '')}".strip(),
        "data": {
            "patient_id": str(patient.id),
            "finding_id": r.finding_id,
            "kind": r.kind,
            "severity": r.severity,
            "drugs": drugs,
            "found_at": r.found_at.astimezone(dt.UTC).isoformat(),
        },
    }


# Records are screened again at least this often: an age threshold (AGS Beers, from
# 65) is crossed on a birthday, with no change to the record.
STALE_AFTER = dt.timedelta(days=1)
RESCREEN_BATCH = 500


def rescreen_due(*, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase) -> int:
    """The scheduler's sweep: re-screen the records never screened (as after an
    upgrade), screened with another knowledge base, or not screened for a day."""
    now = clock()
    with uow.read_only() as reading:
        label = knowledge_base_version(reading, kb)
        due = reading.record.due_for_screening(
            stale_before=now - STALE_AFTER, version=label, limit=RESCREEN_BATCH
        )
    done = 0
    for patient_id in due:
        try:
            with uow:
                if not uow.record.serialise(patient_id, wait=False):
                    continue
                patient = uow.patients.get(patient_id)
                if patient is None:
                    continue
                rescreen(uow, kb, caller=SCHEDULER, patient=patient, now=now, cause="scheduled")
                uow.commit()
                done += 1
        except Exception:
            # One record that cannot be screened must not hold up the others; it is
            # logged and tried again on the next sweep.
            log.exception("the record of patient %s could not be screened", patient_id)
    return done
