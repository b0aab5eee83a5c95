"""Queueing due messages and dispatching them: claim, send, settle.

Each function opens its own transactions and is safe to run again, or in several
processes at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from service.db.devices import DeviceFacts
from service.db.doses import OPEN, PENDING, REMINDED, EventFacts
from service.db.outbox import Claimed
from service.db.tables import Notification
from service.db.uow import UnitOfWork
from service.domain.accounts import Role
from service.domain.prescriptions import plain_amount
from service.notify.base import DeliveryError, Device, Message, Notifier
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden
from service.usecases.reminders import DOSE_KINDS, FOLLOW_UP, REMINDER, ReminderPolicy

log = logging.getLogger("medtrack.reminders")


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
        summary.reminders = uow.outbox.enqueue_dose_messages(
            kind=REMINDER,
            statuses=(PENDING,),
            scheduled_after=now - policy.expiry,
            scheduled_until=now + policy.lead,
            now=now,
        )
        summary.follow_ups = uow.outbox.enqueue_dose_messages(
            kind=FOLLOW_UP,
            statuses=(REMINDED,),
            scheduled_after=now - policy.missed_after,
            scheduled_until=now - policy.follow_up_after,
            now=now,
            due_now=True,
            unless_snoozed=True,
        )
        summary.expired = uow.outbox.expire(
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


def _dose_message(c: Claimed, event: EventFacts, devices: tuple[Device, ...]) -> Message:
    local = event.scheduled_at.astimezone(zoneinfo.ZoneInfo(event.timezone))
    dose = f"{plain_amount(Decimal(event.dose_amount))} {event.dose_unit}"
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
    expire: bool = True,
) -> int:
    """Claim one batch, send it, record the outcome; returns how many were claimed.

    What downtime or a long backoff made too old is never claimed, and with `expire`
    it is marked expired first (a pass over everything due). Sending stops when half
    the claim's lease has passed, and what is left is handed back at once: another
    dispatcher must never take over a claim whose messages this one is still sending.
    """
    with uow:
        now = clock()
        too_old = now - policy.expiry
        if expire:
            uow.outbox.expire(kinds=DOSE_KINDS, due_before=too_old, now=now)
        claimed = uow.outbox.claim(
            worker=worker,
            now=now,
            lease=policy.lease,
            limit=policy.batch,
            stale_kinds=DOSE_KINDS,
            stale_before=too_old,
        )
        if not claimed:
            uow.commit()
            return 0
        # Read in the claim's transaction: one transaction per batch fewer.
        events = {c.event.id: c.event for c in claimed if c.event is not None}
        events.update(
            uow.doses.event_facts(
                {
                    c.dose_event_id
                    for c in claimed
                    if c.dose_event_id is not None and c.event is None
                }
            )
        )
        devices = uow.devices.device_facts({c.recipient_id for c in claimed})
        uow.commit()
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
        uow.outbox.settle(
            worker=worker,
            now=now,
            sent=sent,
            withdrawn=withdrawn,
            retry=retry,
            failed=failed,
            released=released,
        )
        uow.doses.mark_reminded(reminded, now=now)
        uow.devices.remove_devices(gone, reason="gone", now=now)
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
    should_stop: Callable[[], bool] | None = None,
) -> DispatchSummary:
    """Send everything due now, a batch at a time, until nothing is left.

    The first batch expires what is too old to send; the others only leave it out,
    so a long backlog is not scanned again for every batch.
    """
    summary = DispatchSummary()
    for i in range(max_batches):
        if should_stop is not None and should_stop():
            break
        claimed = dispatch_batch(
            uow=uow,
            clock=clock,
            notifier=notifier,
            policy=policy,
            worker=worker,
            summary=summary,
            expire=i == 0,
        )
        if claimed < policy.batch:
            break
    return summary


def release_claims(*, uow: UnitOfWork, clock: Clock, worker: str) -> int:
    """On shutdown: hand this worker's unfinished claims back at once."""
    with uow:
        released = uow.outbox.release(worker=worker, now=clock())
        uow.commit()
    return released


def list_messages(
    *, uow: UnitOfWork, caller: Caller, status: str | None, limit: int, offset: int
) -> list[Notification]:
    """The outbox, newest first, for administrators (dead letters: status=failed)."""
    if caller.require().role is not Role.ADMIN:
        raise Forbidden("Administrators only.")
    with uow.read_only() as reading:
        return reading.outbox.messages(status=status, limit=limit, offset=offset)
