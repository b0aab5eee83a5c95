"""Reminders: plan dose events for a rolling horizon, queue and dispatch messages,
follow up on doses not logged. The scheduler's jobs call these; each opens its own
transactions and is safe to run again, or in several processes at once."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from service.db.reminders import (
    OPEN,
    PENDING,
    REMINDED,
    ActiveSchedule,
    Claimed,
    Missed,
)
from service.db.tables import DoseEvent, Notification
from service.db.uow import UnitOfWork
from service.domain.accounts import Role
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Schedule
from service.domain.schedule import dose_instants
from service.notify.base import DeliveryError, Device, Message, Notifier
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden

log = logging.getLogger("medtrack.reminders")

# Message kinds.
REMINDER = "dose-reminder"
FOLLOW_UP = "dose-follow-up"
SNOOZE = "dose-snooze"
CARE_TEAM = "missed-dose-care-team"
DOSE_KINDS = (REMINDER, FOLLOW_UP, SNOOZE)

_EVENT_IDS = uuid.UUID("5b0c7a52-3f7e-4d0e-9a51-7d3f2a9c1e64")


@dataclass(frozen=True, kw_only=True)
class ReminderPolicy:
    """The timings of planning, reminding and following up (see the README)."""

    horizon: dt.timedelta = dt.timedelta(hours=48)
    # How far back a (re)start plans doses it did not plan while it was down.
    catch_up: dt.timedelta = dt.timedelta(hours=24)
    # Reminders are queued this long before they are due.
    lead: dt.timedelta = dt.timedelta(minutes=10)
    # A reminder not sent within this long of its time is expired, not sent.
    expiry: dt.timedelta = dt.timedelta(hours=2)
    follow_up_after: dt.timedelta = dt.timedelta(minutes=30)
    missed_after: dt.timedelta = dt.timedelta(hours=2)
    missed_in_a_row: int = 3
    lease: dt.timedelta = dt.timedelta(seconds=60)
    batch: int = 500
    max_attempts: int = 8
    retry_base: dt.timedelta = dt.timedelta(seconds=10)
    retry_max: dt.timedelta = dt.timedelta(minutes=15)
    # A dose logged within this long of its time counts as taken on time.
    on_time: dt.timedelta = dt.timedelta(minutes=60)


DEFAULT_POLICY = ReminderPolicy()


def dose_event_id(prescription_id: uuid.UUID, at: dt.datetime) -> uuid.UUID:
    """The same dose planned twice gets the same id, before and after it is stored."""
    instant = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return uuid.uuid5(_EVENT_IDS, f"{prescription_id}/{instant}")


def withdrawal_risk(kb: KnowledgeBase, ingredients: Iterable[str]) -> bool:
    drugs = kb.catalog.drugs
    return any(i in drugs and drugs[i].withdrawal_risk for i in ingredients)


# --- planning ----------------------------------------------------------------------


def _planned_rows(
    kb: KnowledgeBase,
    rx: ActiveSchedule,
    *,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    schedule = Schedule.from_json(rx.schedule)
    if schedule.as_needed:
        return []
    # Nothing before the terms were written: a prescription entered at 10:00 has
    # no 08:00 dose that day, and a revision does not re-plan the past.
    start = max(start, rx.version_created_at)
    if start >= end:
        return []
    zone = zoneinfo.ZoneInfo(rx.timezone)
    risk = withdrawal_risk(kb, rx.ingredients)
    return [
        {
            "id": dose_event_id(rx.prescription_id, d.at),
            "prescription_id": rx.prescription_id,
            "patient_id": rx.patient_id,
            "version": rx.version,
            "scheduled_at": d.at,
            "timezone": rx.timezone,
            "slot": d.slot.strftime("%H:%M"),
            "drug": rx.drug,
            "dose_amount": rx.dose_amount,
            "dose_unit": rx.dose_unit,
            "withdrawal_risk": risk,
            "prn": False,
            "status": PENDING,
            "snoozes": 0,
            "created_at": now,
            "updated_at": now,
        }
        for d in dose_instants(
            schedule,
            start_date=rx.start_date,
            end_date=rx.end_date,
            zone=zone,
            window_start=start,
            window_end=end,
        )
    ]


def plan(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    *,
    now: dt.datetime,
    patient_id: uuid.UUID | None = None,
    prescription_id: uuid.UUID | None = None,
) -> int:
    """Plan dose events from `now - catch_up` to `now + horizon`, inside the
    caller's transaction. Doses already planned are left as they are."""
    start, end = now - policy.catch_up, now + policy.horizon
    # Core statements below do not autoflush: write pending ORM changes (a new
    # prescription, a new time zone) first.
    uow.session.flush()
    planned = 0
    batch: list[dict[str, Any]] = []
    for rx in uow.reminders.active_schedules(
        patient_id=patient_id, prescription_id=prescription_id
    ):
        batch.extend(_planned_rows(kb, rx, start=start, end=end, now=now))
        if len(batch) >= 5000:
            uow.reminders.upsert_events(batch)
            planned += len(batch)
            batch = []
    uow.reminders.upsert_events(batch)
    return planned + len(batch)


def replan(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    *,
    now: dt.datetime,
    patient_id: uuid.UUID | None = None,
    prescription_id: uuid.UUID | None = None,
) -> None:
    """After a change of terms, status or time zone: withdraw the future doses not
    yet reminded and plan them again from the current terms (same transaction)."""
    uow.reminders.cancel_future(
        after=now, now=now, patient_id=patient_id, prescription_id=prescription_id
    )
    plan(
        uow,
        kb,
        policy,
        now=now,
        patient_id=patient_id,
        prescription_id=prescription_id,
    )


def materialise_doses(
    *, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase, policy: ReminderPolicy
) -> int:
    """The scheduler's planning job: every active prescription, one transaction."""
    with uow:
        planned = plan(uow, kb, policy, now=clock())
        uow.commit()
    return planned


# --- queueing and dispatch ------------------------------------------------------------


@dataclass
class QueueSummary:
    reminders: int = 0
    follow_ups: int = 0
    expired: int = 0


def queue_due_messages(*, uow: UnitOfWork, clock: Clock, policy: ReminderPolicy) -> QueueSummary:
    """Queue reminders for doses due soon, follow-ups for doses not logged, and
    expire what downtime made too old to send."""
    now = clock()
    summary = QueueSummary()
    with uow:
        summary.reminders = uow.reminders.enqueue_dose_messages(
            kind=REMINDER,
            statuses=(PENDING,),
            scheduled_after=now - policy.expiry,
            scheduled_until=now + policy.lead,
            now=now,
        )
        summary.follow_ups = uow.reminders.enqueue_dose_messages(
            kind=FOLLOW_UP,
            statuses=(REMINDED,),
            scheduled_after=now - policy.missed_after,
            scheduled_until=now - policy.follow_up_after,
            now=now,
            due_now=True,
        )
        summary.expired = uow.reminders.expire(
            kinds=DOSE_KINDS, due_before=now - policy.expiry, now=now
        )
        uow.commit()
    return summary


@dataclass
class DispatchSummary:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    withdrawn: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


def _device(d: Any) -> Device:
    return Device(
        id=str(d.id), platform=d.platform, endpoint=d.endpoint, token=d.token, keys=d.keys or {}
    )


def _amount(value: Any) -> str:
    n = Decimal(value).normalize()
    return format(n.quantize(Decimal(1)) if n == n.to_integral() else n, "f")


def dose_text(event: DoseEvent) -> str:
    return f"{_amount(event.dose_amount)} {event.dose_unit}"


def local_time(event: DoseEvent) -> dt.datetime:
    return event.scheduled_at.astimezone(zoneinfo.ZoneInfo(event.timezone))


def _dose_message(c: Claimed, event: DoseEvent, devices: tuple[Device, ...]) -> Message:
    local = local_time(event)
    dose = dose_text(event)
    if c.kind == FOLLOW_UP:
        title = f"Did you take your {event.drug}?"
        body = f"{dose} was due at {local:%H:%M}. Log it in the app."
    else:
        title = f"Time for your {event.drug}"
        body = f"{dose} at {local:%H:%M}."
    return Message(
        idempotency_key=c.idempotency_key,
        kind=c.kind,
        recipient_id=str(c.recipient_id),
        patient_id=str(c.patient_id),
        title=title,
        body=body,
        data={
            "dose_id": str(event.id),
            "prescription_id": str(event.prescription_id),
            "drug": event.drug,
            "dose": dose,
            "scheduled_at": event.scheduled_at.astimezone(dt.UTC).isoformat(),
            "local_time": local.isoformat(),
        },
        devices=devices,
    )


def _stored_message(c: Claimed, devices: tuple[Device, ...]) -> Message:
    return Message(
        idempotency_key=c.idempotency_key,
        kind=c.kind,
        recipient_id=str(c.recipient_id),
        patient_id=str(c.patient_id),
        title=str(c.payload.get("title", "")),
        body=str(c.payload.get("body", "")),
        data=dict(c.payload.get("data", {})),
        devices=devices,
    )


def _backoff(policy: ReminderPolicy, attempts: int, retry_after: float | None) -> dt.timedelta:
    factor: int = 2 ** max(attempts - 1, 0)
    delay = min(policy.retry_base * factor, policy.retry_max)
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=min(retry_after, 86400)))
    return delay


def dispatch_batch(
    *,
    uow: UnitOfWork,
    clock: Clock,
    notifier: Notifier,
    policy: ReminderPolicy,
    worker: str,
    summary: DispatchSummary,
) -> int:
    """Claim one batch, send it, record the outcome; returns how many were claimed."""
    with uow:
        claimed = uow.reminders.claim(
            worker=worker, now=clock(), lease=policy.lease, limit=policy.batch
        )
        uow.commit()
    if not claimed:
        return 0
    with uow:
        events = uow.reminders.events_by_id(
            {c.dose_event_id for c in claimed if c.dose_event_id is not None}
        )
        devices = uow.reminders.devices_of({c.recipient_id for c in claimed})
    sent: list[int] = []
    withdrawn: list[int] = []
    retry: list[tuple[int, dt.datetime, str]] = []
    failed: list[tuple[int, str]] = []
    reminded: list[uuid.UUID] = []
    gone: set[str] = set()
    for c in claimed:
        event = events.get(c.dose_event_id) if c.dose_event_id else None
        if c.kind in DOSE_KINDS and (event is None or event.status not in OPEN):
            withdrawn.append(c.id)
            continue
        targets = tuple(_device(d) for d in devices.get(c.recipient_id, []))
        message = (
            _dose_message(c, event, targets)
            if c.kind in DOSE_KINDS and event is not None
            else _stored_message(c, targets)
        )
        try:
            report = notifier.send(message)
        except DeliveryError as exc:
            gone.update(exc.gone_devices)
            if exc.transient and c.attempts < policy.max_attempts:
                retry.append(
                    (c.id, clock() + _backoff(policy, c.attempts, exc.retry_after), str(exc))
                )
            else:
                failed.append((c.id, str(exc)))
            continue
        except Exception as exc:  # a notifier bug must not stop the other messages
            log.exception("notifier %s raised on %s", notifier.name, c.idempotency_key)
            summary.errors.append(f"{type(exc).__name__}: {exc}")
            if c.attempts < policy.max_attempts:
                retry.append((c.id, clock() + _backoff(policy, c.attempts, None), repr(exc)))
            else:
                failed.append((c.id, repr(exc)))
            continue
        sent.append(c.id)
        gone.update(report.gone_devices)
        if c.kind == REMINDER and event is not None:
            reminded.append(event.id)
    now = clock()
    with uow:
        uow.reminders.settle(
            worker=worker, now=now, sent=sent, withdrawn=withdrawn, retry=retry, failed=failed
        )
        uow.reminders.mark_reminded(reminded, now=now)
        uow.reminders.remove_devices(gone, reason="gone", now=now)
        uow.commit()
    summary.claimed += len(claimed)
    summary.sent += len(sent)
    summary.withdrawn += len(withdrawn)
    summary.retried += len(retry)
    summary.failed += len(failed)
    summary.batches += 1
    return len(claimed)


def dispatch_due(
    *,
    uow: UnitOfWork,
    clock: Clock,
    notifier: Notifier,
    policy: ReminderPolicy,
    worker: str,
    max_batches: int = 1000,
    should_stop: Any = None,
) -> DispatchSummary:
    """Send everything due now, a batch at a time, until nothing is left."""
    summary = DispatchSummary()
    for _ in range(max_batches):
        if should_stop is not None and should_stop():
            break
        claimed = dispatch_batch(
            uow=uow,
            clock=clock,
            notifier=notifier,
            policy=policy,
            worker=worker,
            summary=summary,
        )
        if claimed < policy.batch:
            break
    return summary


def release_claims(*, uow: UnitOfWork, clock: Clock, worker: str) -> int:
    """On shutdown: hand this worker's unfinished claims back at once."""
    with uow:
        released = uow.reminders.release(worker=worker, now=clock())
        uow.commit()
    return released


# --- follow-ups ---------------------------------------------------------------------


@dataclass
class FollowUpSummary:
    missed: int = 0
    care_team_messages: int = 0


def _care_team_reason(uow: UnitOfWork, policy: ReminderPolicy, m: Missed) -> str | None:
    if m.withdrawal_risk:
        return "withdrawal-risk"
    recent = uow.reminders.recent_outcomes(
        m.prescription_id, until=m.scheduled_at, n=policy.missed_in_a_row
    )
    if len(recent) == policy.missed_in_a_row and all(s == "missed" for s in recent):
        return "missed-in-a-row"
    return None


def _care_team_rows(
    m: Missed, reason: str, clinicians: list[uuid.UUID], *, now: dt.datetime, in_a_row: int
) -> list[dict[str, Any]]:
    local = m.scheduled_at.astimezone(zoneinfo.ZoneInfo(m.timezone))
    if reason == "withdrawal-risk":
        body = (
            f"A dose of {m.drug} due {local:%Y-%m-%d %H:%M} was missed. "
            "Stopping it abruptly risks withdrawal."
        )
    else:
        body = (
            f"{in_a_row} doses of {m.drug} in a row were missed (last due {local:%Y-%m-%d %H:%M})."
        )
    payload = {
        "title": "Missed dose",
        "body": body,
        "data": {
            "dose_id": str(m.id),
            "prescription_id": str(m.prescription_id),
            "patient_id": str(m.patient_id),
            "drug": m.drug,
            "scheduled_at": m.scheduled_at.astimezone(dt.UTC).isoformat(),
            "reason": reason,
        },
    }
    return [
        {
            "idempotency_key": f"{CARE_TEAM}:{m.id}:{clinician}",
            "kind": CARE_TEAM,
            "recipient_id": clinician,
            "patient_id": m.patient_id,
            "dose_event_id": m.id,
            "due_at": now,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "payload": payload,
            "created_at": now,
            "updated_at": now,
        }
        for clinician in clinicians
    ]


def follow_up_missed(*, uow: UnitOfWork, clock: Clock, policy: ReminderPolicy) -> FollowUpSummary:
    """Mark doses not logged in time as missed; tell the care team when a
    withdrawal-risk drug is missed, or several doses in a row (CLINICAL.md 3)."""
    now = clock()
    summary = FollowUpSummary()
    with uow:
        missed = uow.reminders.mark_missed(scheduled_before=now - policy.missed_after, now=now)
        notified: list[uuid.UUID] = []
        for m in missed:
            reason = _care_team_reason(uow, policy, m)
            if reason is None:
                continue
            rows = _care_team_rows(
                m,
                reason,
                uow.reminders.care_team(m.patient_id),
                now=now,
                in_a_row=policy.missed_in_a_row,
            )
            summary.care_team_messages += uow.reminders.add_messages(rows)
            notified.append(m.id)
        uow.reminders.mark_care_team_notified(notified, now=now)
        uow.commit()
    summary.missed = len(missed)
    return summary


def list_messages(
    *, uow: UnitOfWork, caller: Caller, status: str | None, limit: int, offset: int
) -> list[Notification]:
    """The outbox, newest first, for administrators (dead letters: status=failed)."""
    if caller.require().role is not Role.ADMIN:
        raise Forbidden("Administrators only.")
    with uow.read_only() as reading:
        return reading.reminders.messages(status=status, limit=limit, offset=offset)
