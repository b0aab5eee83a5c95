"""Reminders: plan dose events for a rolling horizon, queue and dispatch messages,
follow up on doses not logged. The scheduler's jobs call these; each opens its own
transactions and is safe to run again, or in several processes at once."""

from __future__ import annotations

import datetime as dt
import logging
import time
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
    DeviceFacts,
    EventFacts,
    Missed,
)
from service.db.tables import Notification
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
    skip: set[tuple[uuid.UUID, dt.date, str]] | None = None,
) -> list[dict[str, Any]]:
    schedule = Schedule.from_json(rx.schedule)
    if schedule.as_needed or start >= end:
        return []
    zone = zoneinfo.ZoneInfo(rx.timezone)
    risk = withdrawal_risk(kb, rx.ingredients)
    rows = []
    for d in dose_instants(
        schedule,
        start_date=rx.start_date,
        end_date=rx.end_date,
        zone=zone,
        window_start=start,
        window_end=end,
    ):
        slot = d.slot.strftime("%H:%M")
        if skip and (rx.prescription_id, d.day, slot) in skip:
            continue
        rows.append(
            {
                "id": dose_event_id(rx.prescription_id, d.at),
                "prescription_id": rx.prescription_id,
                "patient_id": rx.patient_id,
                "version": rx.version,
                "scheduled_at": d.at,
                "timezone": rx.timezone,
                "slot": slot,
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
        )
    return rows


def _window_start(rx: ActiveSchedule, floor: dt.datetime) -> dt.datetime:
    """Nothing before the terms were written (a prescription entered at 10:00 has no
    08:00 dose that day; a revision does not re-plan the past), nor before a new
    time zone took effect, nor again what is planned already."""
    start = max(floor, rx.version_created_at)
    for mark in (rx.plan_from, rx.planned_until):
        if mark is not None:
            start = max(start, mark)
    return start


# Prescriptions per planning transaction: short transactions keep SQLite's single
# writer (and PostgreSQL's row locks) free for the API between them.
PLAN_CHUNK = 1000


def _plan_locked(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    schedules: list[ActiveSchedule],
    *,
    now: dt.datetime,
    revive: bool = False,
    skip: set[tuple[uuid.UUID, dt.date, str]] | None = None,
) -> int:
    """Plan the given (locked) prescriptions up to the horizon; returns doses written."""
    until = now + policy.horizon + PLAN_AHEAD
    rows: list[dict[str, Any]] = []
    for rx in schedules:
        start = _window_start(rx, now - policy.catch_up)
        rows.extend(_planned_rows(kb, rx, start=start, end=until, now=now, skip=skip))
    uow.reminders.insert_events(rows, revive=revive)
    uow.reminders.set_planned_until([rx.prescription_id for rx in schedules], until)
    return len(rows)


# Doses are planned this far beyond the horizon, so a prescription is revisited
# about once an hour rather than on every run of the planning job.
PLAN_AHEAD = dt.timedelta(hours=1)


def plan(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    *,
    now: dt.datetime,
    patient_id: uuid.UUID | None = None,
) -> int:
    """Plan what is missing of the patient's horizon, inside the caller's transaction
    (a cheap read when nothing is)."""
    # Core statements do not autoflush: write pending ORM changes first.
    uow.session.flush()
    if not uow.reminders.prescriptions_to_plan(until=now + policy.horizon, patient_id=patient_id):
        return 0
    uow.serialise_writes()
    schedules = [
        rx
        for rx in uow.reminders.active_schedules(patient_id=patient_id, lock=True)
        if rx.planned_until is None or rx.planned_until < now + policy.horizon
    ]
    return _plan_locked(uow, kb, policy, schedules, now=now)


def replan(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    *,
    now: dt.datetime,
    prescription_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    new_zone: bool = False,
) -> None:
    """After a change of terms or status, or a new time zone, in the transaction
    that made it (which holds the prescription's lock): withdraw the future doses
    not yet reminded and plan them again from the current terms. A new time zone
    plans from now only, and not a slot already planned for that local day."""
    uow.session.flush()
    uow.serialise_writes()
    withdrawn = uow.reminders.cancel_future(
        after=now, now=now, patient_id=patient_id, prescription_id=prescription_id
    )
    skip = None
    if new_zone:
        assert patient_id is not None
        uow.reminders.set_plan_from(patient_id, now)
        skip = uow.reminders.logged_slots(patient_id, since=now - dt.timedelta(days=2))
    schedules = uow.reminders.active_schedules(
        ids=[prescription_id] if prescription_id else None, patient_id=patient_id, lock=True
    )
    _plan_locked(uow, kb, policy, schedules, now=now, revive=True, skip=skip)
    uow.reminders.reopen_withdrawn(withdrawn, now=now)


def materialise_doses(
    *, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase, policy: ReminderPolicy
) -> int:
    """The scheduler's planning job: every active prescription not yet planned to
    the horizon, a chunk per transaction; returns the doses written."""
    now = clock()
    with uow.read_only() as reading:
        due = reading.reminders.prescriptions_to_plan(until=now + policy.horizon)
    planned = 0
    for start in range(0, len(due), PLAN_CHUNK):
        chunk = due[start : start + PLAN_CHUNK]
        with uow:
            uow.serialise_writes()
            schedules = [
                rx
                for rx in uow.reminders.active_schedules(ids=chunk, lock=True)
                if rx.planned_until is None or rx.planned_until < now + policy.horizon
            ]
            planned += _plan_locked(uow, kb, policy, schedules, now=now)
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
            unless_snoozed=True,
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


def _device(d: DeviceFacts) -> Device:
    return Device(
        id=str(d.id), platform=d.platform, endpoint=d.endpoint, token=d.token, keys=d.keys or {}
    )


def _amount(value: Any) -> str:
    n = Decimal(value).normalize()
    return format(n.quantize(Decimal(1)) if n == n.to_integral() else n, "f")


def _dose_message(c: Claimed, event: EventFacts, devices: tuple[Device, ...]) -> Message:
    local = event.scheduled_at.astimezone(zoneinfo.ZoneInfo(event.timezone))
    dose = f"{_amount(event.dose_amount)} {event.dose_unit}"
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
            "scheduled_at": event.scheduled_at.isoformat(),
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
    """Claim one batch, send it, record the outcome; returns how many were claimed.

    Sending stops when half the claim's lease has passed, and what is left is handed
    back at once: another dispatcher must never take over a claim whose messages
    this one is still sending.
    """
    with uow:
        now = clock()
        # What downtime or a long backoff made too old is expired, never claimed.
        uow.reminders.expire(kinds=DOSE_KINDS, due_before=now - policy.expiry, now=now)
        claimed = uow.reminders.claim(
            worker=worker, now=now, lease=policy.lease, limit=policy.batch
        )
        uow.commit()
    if not claimed:
        return 0
    with uow:
        events = uow.reminders.event_facts(
            {c.dose_event_id for c in claimed if c.dose_event_id is not None}
        )
        devices = uow.reminders.device_facts({c.recipient_id for c in claimed})
    sent: list[int] = []
    withdrawn: list[int] = []
    retry: list[tuple[int, dt.datetime, str]] = []
    failed: list[tuple[int, str]] = []
    reminded: list[uuid.UUID] = []
    released: list[int] = []
    gone: set[str] = set()
    deadline = time.monotonic() + policy.lease.total_seconds() / 2
    for c in claimed:
        if time.monotonic() > deadline:
            released.append(c.id)
            continue
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
            worker=worker,
            now=now,
            sent=sent,
            withdrawn=withdrawn,
            retry=retry,
            failed=failed,
            released=released,
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
    n = policy.missed_in_a_row
    recent = uow.reminders.recent_outcomes(m.prescription_id, until=m.scheduled_at, n=n + 1)
    # Once per run of misses: when it reaches n, not again on each miss after.
    streak = recent[:n]
    reached = len(streak) == n and all(s == "missed" for s in streak)
    if reached and (len(recent) == n or recent[n] != "missed"):
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
        # A dose of a prescription paused or stopped since is not the care team's
        # concern: it is recorded missed, without an alert.
        statuses = uow.reminders.statuses_of({m.prescription_id for m in missed})
        notified: list[uuid.UUID] = []
        for m in missed:
            if statuses.get(m.prescription_id) != "active":
                continue
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
