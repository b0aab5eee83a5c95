"""Refill reminders: when a formulation lasts fewer days than the threshold along the
plan, the patient is told (`refill-due`) and, for a withdrawal-risk drug, the care
team too (`refill-due-care-team`); docs/clinical.md, "Supply and refills".

Once per shortfall: a message's key names the prescription and the entry the
formulation's current supply began with (the last dispense, or a count that opened a
supply), so the same shortfall queues it once whichever scheduler replica
finds it first (the outbox ignores a key queued already), and a refill opens the
next one.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from service.db.outbox import queued
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.messages import MessageKind
from service.domain.supply.forecast import Outlook, refill_due
from service.domain.supply.use import plan_labels
from service.usecases.context import Clock
from service.usecases.reminders import ReminderPolicy
from service.usecases.supply_forecast import outlook_of, threshold
from service.usecases.supply_subject import Subject, subject_of

log = logging.getLogger(__name__)

# Prescriptions checked per transaction.
PAGE = 200


def check_refills(
    *, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase, policy: ReminderPolicy
) -> int:
    """Queue the refill reminders now due; the number of messages queued."""
    queued_count = 0
    after: uuid.UUID | None = None
    while True:
        with uow:
            page = uow.supply.tracked(after=after, limit=PAGE)
            if not page:
                return queued_count
            now = clock()
            for rx_id in page:
                queued_count += _check(uow, kb, policy, rx_id, now)
            uow.commit()
        after = page[-1]


def _check(
    uow: UnitOfWork, kb: KnowledgeBase, policy: ReminderPolicy, rx_id: uuid.UUID, now: dt.datetime
) -> int:
    patient_id = uow.prescriptions.patient_of(rx_id)
    patient = uow.patients.get(patient_id) if patient_id is not None else None
    rx = uow.prescriptions.get(patient_id=patient.id, rx_id=rx_id) if patient else None
    if rx is None or patient is None:
        return 0
    subject = subject_of(uow, kb, patient, rx)
    days = threshold(subject, policy)
    seen = outlook_of(uow, subject, now=now, missed_after=policy.missed_after, horizon_days=days)
    # Every prescription checked has supply recorded, so a formulation the plan needs
    # soon that nobody has recorded is due as well (docs/clinical.md, "Supply and refills").
    due = [o for o, _, _ in seen.found if refill_due(o, threshold_days=days)]
    if not due:
        return 0
    labels = plan_labels(subject.plan.plan) if subject.plan is not None else []
    team = uow.patients.care_teams([patient.id])[patient.id] if subject.withdrawal_risk else []
    rows = []
    for o in due:
        key = f"{rx_id}:{_supply_of(seen.began, o.formulation, labels)}"
        payload = _payload(subject, o, days)
        rows.append(
            queued(
                key=f"{MessageKind.REFILL_DUE}:{key}",
                kind=MessageKind.REFILL_DUE,
                recipient_id=patient.user_id,
                patient_id=patient.id,
                dose_event_id=None,
                due_at=now,
                now=now,
                payload=payload,
            )
        )
        rows.extend(
            queued(
                key=f"{MessageKind.REFILL_DUE_CARE_TEAM}:{key}:{clinician}",
                kind=MessageKind.REFILL_DUE_CARE_TEAM,
                recipient_id=clinician,
                patient_id=patient.id,
                dose_event_id=None,
                due_at=now,
                now=now,
                payload=payload,
            )
            for clinician in team
        )
    added = uow.outbox.add_messages(rows)
    if added:
        log.info("refill due: %d message(s) for prescription %s", added, rx_id)
    return added


def _supply_of(began: dict[str, str], formulation: str, labels: list[str]) -> str:
    """What a message key names the shortfall by: the entry that began the
    formulation's supply (its id says nothing of the drug or strength, and every
    channel carries the key); for one the plan needs that nobody has recorded, its
    place among the plan's formulations."""
    if formulation in began:
        return began[formulation]
    return f"needed-{labels.index(formulation) if formulation in labels else 0}"


def _payload(subject: Subject, o: Outlook, days: int) -> dict[str, Any]:
    runs_out = o.runs_out_on.isoformat() if o.runs_out_on else None
    return {
        "title": f"Time to refill {subject.drug}",
        "body": f"{subject.drug} {o.formulation} runs out on {runs_out}; ask for a refill now.",
        "data": {
            "prescription_id": str(subject.rx.id),
            "drug": subject.drug,
            "formulation": o.formulation,
            "runs_out_on": runs_out,
            "days_left": o.days_left,
            "threshold_days": days,
            "on_hand": str(o.on_hand),
        },
    }
