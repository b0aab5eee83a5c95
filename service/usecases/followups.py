"""Following up doses not logged: mark them missed, and tell the care team when a dose
of a withdrawal-risk drug is missed or skipped, or several doses of another drug in a
row are missed (docs/clinical.md, "Dose schedules and reminders")."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from service.db.doses import Missed
from service.db.outbox import queued
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.doses import DoseStatus
from service.domain.messages import MessageKind
from service.domain.prescriptions import Status
from service.usecases.audit import record
from service.usecases.context import SCHEDULER, Clock
from service.usecases.reminders import ReminderPolicy


@dataclass
class FollowUpSummary:
    missed: int = 0
    care_team_messages: int = 0


def _care_team_reason(uow: UnitOfWork, policy: ReminderPolicy, m: Missed) -> str | None:
    if m.withdrawal_risk:
        return "withdrawal-risk"
    n = policy.missed_in_a_row
    recent = uow.doses.recent_outcomes(m.prescription_id, until=m.scheduled_at, n=n + 1)
    # Once per run of misses: when it reaches n, not again on each miss after.
    streak = recent[:n]
    reached = len(streak) == n and all(s == DoseStatus.MISSED for s in streak)
    if reached and (len(recent) == n or recent[n] != DoseStatus.MISSED):
        return "missed-in-a-row"
    return None


def _care_team_rows(
    m: Missed,
    reason: str,
    clinicians: list[uuid.UUID],
    *,
    now: dt.datetime,
    in_a_row: int,
    status: str = DoseStatus.MISSED,
) -> list[dict[str, Any]]:
    local = m.scheduled_at.astimezone(zoneinfo.ZoneInfo(m.timezone))
    skipped = status == DoseStatus.SKIPPED
    if reason == "withdrawal-risk":
        body = (
            f"A dose of {m.drug} due {local:%Y-%m-%d %H:%M} was "
            f"{'skipped' if skipped else 'missed'}. Stopping it abruptly risks withdrawal."
        )
    else:
        body = (
            f"{in_a_row} doses of {m.drug} in a row were missed (last due {local:%Y-%m-%d %H:%M})."
        )
    payload = {
        "title": "Skipped dose" if skipped else "Missed dose",
        "body": body,
        "data": {
            "dose_id": str(m.id),
            "prescription_id": str(m.prescription_id),
            "patient_id": str(m.patient_id),
            "drug": m.drug,
            "scheduled_at": m.scheduled_at.astimezone(dt.UTC).isoformat(),
            "reason": reason,
            "status": str(status),
        },
    }
    return [
        queued(
            key=f"{MessageKind.CARE_TEAM}:{m.id}:{clinician}",
            kind=MessageKind.CARE_TEAM,
            recipient_id=clinician,
            patient_id=m.patient_id,
            dose_event_id=m.id,
            due_at=now,
            now=now,
            payload=payload,
        )
        for clinician in clinicians
    ]


def _gaps(
    uow: UnitOfWork, policy: ReminderPolicy, now: dt.datetime
) -> list[tuple[Missed, DoseStatus]]:
    """Doses past the missed mark: those still open, now marked missed, and those of a
    withdrawal-risk drug skipped and not yet alerted, oldest first. A skipped dose of
    such a drug leaves the same gap as a missed one (docs/clinical.md), so it is
    alerted at the same mark; until then the patient may still log it taken. Skips
    are looked for over the catch-up window, so that an upgrade or a long outage does
    not alert old ones."""
    mark = now - policy.missed_after
    missed = uow.doses.mark_missed(scheduled_before=mark, now=now)
    # A change of the patient's record like any other: in their audit trail, and so in
    # what their app syncs (service/usecases/changes.py). By patient, so that two
    # schedulers take the patients' chain locks in one order and never wait on each
    # other in a cycle.
    for m in sorted(missed, key=lambda m: (str(m.patient_id), m.scheduled_at, str(m.id))):
        record(
            uow,
            caller=SCHEDULER,
            now=now,
            action=AuditAction.UPDATE,
            subtype="dose.missed",
            entity_type="DoseEvent",
            entity_id=m.id,
            patient_id=m.patient_id,
            after={"status": DoseStatus.MISSED.value},
        )
    skipped = uow.doses.skipped_not_notified(
        scheduled_after=mark - policy.catch_up, scheduled_before=mark
    )
    gaps = [(m, DoseStatus.MISSED) for m in missed] + [(s, DoseStatus.SKIPPED) for s in skipped]
    gaps.sort(key=lambda g: (g[0].scheduled_at, str(g[0].id)))
    return gaps


def follow_up_missed(*, uow: UnitOfWork, clock: Clock, policy: ReminderPolicy) -> FollowUpSummary:
    """Mark doses not logged in time as missed; tell the care team when a dose of a
    withdrawal-risk drug is missed or skipped, or several doses of another drug in a row
    are missed (docs/clinical.md, "Dose schedules and reminders"). Each dose is alerted
    at most once: it is marked notified, and its messages have one key per clinician."""
    now = clock()
    summary = FollowUpSummary()
    with uow:
        gaps = _gaps(uow, policy, now)
        # A dose of a prescription paused or stopped since is not the care team's
        # concern: it is recorded missed, without an alert.
        statuses = uow.doses.statuses_of({m.prescription_id for m, _ in gaps})
        teams = uow.patients.care_teams(list({m.patient_id for m, _ in gaps}))
        notified: list[uuid.UUID] = []
        for m, status in gaps:
            if statuses.get(m.prescription_id) != Status.ACTIVE:
                continue
            reason = _care_team_reason(uow, policy, m)
            if reason is None:
                continue
            rows = _care_team_rows(
                m,
                reason,
                teams[m.patient_id],
                now=now,
                in_a_row=policy.missed_in_a_row,
                status=status,
            )
            summary.care_team_messages += uow.outbox.add_messages(rows)
            notified.append(m.id)
        uow.doses.mark_care_team_notified(notified, now=now)
        uow.commit()
    summary.missed = sum(1 for _, status in gaps if status == DoseStatus.MISSED)
    return summary
