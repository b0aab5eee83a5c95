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
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from decimal import Decimal

from service.db.devices import DeviceFacts
from service.db.doses import OPEN, PENDING, REMINDED, EventFacts
from service.db.outbox import Claimed, new_claim_token
from service.db.uow import UnitOfWork
from service.domain.prescriptions import plain_amount
from service.notify.base import Deferred, DeliveryError, Device, Message, Notifier
from service.notify.deadline import deadline
from service.usecases.context import Clock
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
    deferred: int = 0
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


# How long a batch waits for its sends before it settles what has finished; sends
# still running (a slow receiver) are settled by a later pass of the same run, so a
# slow receiver never holds back the claim of messages falling due meanwhile.
PATIENCE_SECONDS = 0.25


@dataclass
class _Outcomes:
    sent: list[int] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    retry: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    deferred: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    reminded: list[uuid.UUID] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


@dataclass
class _Lane:
    """One recipient's messages of one claim, sent in order by one thread: never two
    sends to the same devices at once. No send starts after `start_by` and none runs
    past `finish_by` (time.monotonic), both well inside the claim's lease."""

    token: str
    recipient: uuid.UUID
    start_by: float
    finish_by: float
    items: list[tuple[Claimed, Message, uuid.UUID | None]] = field(default_factory=list)
    outcomes: _Outcomes = field(default_factory=_Outcomes)
    future: Future[None] | None = None

    def done(self) -> bool:
        return self.future is None or self.future.done()


def _send_lane(lane: _Lane, *, notifier: Notifier, clock: Clock, policy: ReminderPolicy) -> None:
    out = lane.outcomes
    for c, message, reminded in lane.items:
        left = lane.finish_by - time.monotonic()
        if time.monotonic() > lane.start_by or left <= 0:
            out.released.append(c.id)
            continue
        try:
            # Every HTTP request under this send ends by the lane's finish line.
            with deadline(left):
                report = notifier.send(message)
        except Deferred as exc:
            wait = dt.timedelta(seconds=exc.retry_after or 0.0)
            out.deferred.append((c.id, clock() + wait, str(exc)))
            continue
        except DeliveryError as exc:
            out.gone.update(exc.gone_devices)
            _retry_or_fail(out, c, policy, clock, exc.retry_after, str(exc), exc.transient)
            continue
        except Exception as exc:  # a notifier bug must not stop the other messages
            log.exception("notifier %s raised on %s", notifier.name, c.idempotency_key)
            out.errors.append(f"{type(exc).__name__}: {exc}")
            _retry_or_fail(out, c, policy, clock, None, repr(exc), True)
            continue
        out.sent.append(c.id)
        out.gone.update(report.gone_devices)
        if reminded is not None:
            out.reminded.append(reminded)


def _retry_or_fail(
    out: _Outcomes,
    c: Claimed,
    policy: ReminderPolicy,
    clock: Clock,
    retry_after: float | None,
    error: str,
    transient: bool,
) -> None:
    if transient and c.attempts < policy.max_attempts:
        out.retry.append((c.id, clock() + _backoff(policy, c.attempts, retry_after), error))
    else:
        out.failed.append((c.id, error))


def _lanes(
    claimed: list[Claimed],
    events: dict[uuid.UUID, EventFacts],
    devices: dict[uuid.UUID, list[DeviceFacts]],
    *,
    token: str,
    claimed_at: float,
    policy: ReminderPolicy,
    withdrawn: list[int],
    busy: set[uuid.UUID],
) -> list[_Lane]:
    """The claim's messages by recipient. A recipient whose lane of an earlier batch
    is still sending gets its new messages handed back, not a second lane: never
    two sends to the same devices at once."""
    started = claimed_at
    lease = policy.lease.total_seconds()
    lanes: dict[uuid.UUID, _Lane] = {}
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
        lane = lanes.setdefault(
            c.recipient_id,
            _Lane(
                token=token,
                recipient=c.recipient_id,
                start_by=started + lease / 2,
                finish_by=started + lease * 3 / 4,
            ),
        )
        if c.recipient_id in busy:
            lane.outcomes.released.append(c.id)
            continue
        reminded = event.id if c.kind == REMINDER and event is not None else None
        lane.items.append((c, message, reminded))
    return list(lanes.values())


def dispatch_batch(
    *,
    uow: UnitOfWork,
    clock: Clock,
    notifier: Notifier,
    policy: ReminderPolicy,
    worker: str,
    summary: DispatchSummary,
    expire: bool = True,
    pool: ThreadPoolExecutor | None = None,
    in_flight: list[_Lane] | None = None,
) -> int:
    """Claim one batch, send it, record the outcome; returns how many were claimed.

    What downtime or a long backoff made too old is never claimed, and with `expire`
    it is marked expired first (a pass over everything due). No send starts after half
    the claim's lease and none runs past three quarters of it (each HTTP request is cut
    at that line), and what is left is handed back: another dispatcher must never take
    over a claim whose messages this one is still sending. Should that happen anyway
    (a stalled process), the claim's token fences this one's outcomes off.

    With a `pool`, each recipient's messages are sent by one of its threads; sends not
    finished after PATIENCE_SECONDS are left in `in_flight`, for the next batch (or
    `settle_in_flight`) to record.
    """
    token = new_claim_token()
    claimed_at = time.monotonic()
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
            token=token,
            stale_kinds=DOSE_KINDS,
            stale_before=too_old,
        )
        if claimed:
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
    withdrawn: list[int] = []
    lanes = (
        _lanes(
            claimed,
            events,
            devices,
            token=token,
            claimed_at=claimed_at,
            policy=policy,
            withdrawn=withdrawn,
            busy={lane.recipient for lane in in_flight or [] if not lane.done()},
        )
        if claimed
        else []
    )
    if pool is None:
        for lane in lanes:
            _send_lane(lane, notifier=notifier, clock=clock, policy=policy)
    else:
        for lane in lanes:
            lane.future = pool.submit(
                _send_lane, lane, notifier=notifier, clock=clock, policy=policy
            )
        futures = [lane.future for lane in lanes if lane.future is not None]
        wait(futures, timeout=PATIENCE_SECONDS)
    waiting = in_flight if in_flight is not None else []
    waiting.extend(lanes)
    finished = [lane for lane in waiting if lane.done()]
    waiting[:] = [lane for lane in waiting if not lane.done()]
    if finished or withdrawn:
        _settle(
            uow=uow, clock=clock, lanes=finished, summary=summary, token=token, withdrawn=withdrawn
        )
    summary.claimed += len(claimed)
    summary.withdrawn += len(withdrawn)
    summary.batches += 1 if claimed else 0
    return len(claimed)


def _settle(
    *,
    uow: UnitOfWork,
    clock: Clock,
    lanes: list[_Lane],
    summary: DispatchSummary,
    token: str | None = None,
    withdrawn: Sequence[int] = (),
) -> None:
    """Record finished sends, one statement set per claim (token)."""
    by_token: dict[str, _Outcomes] = {}
    if token is not None:
        by_token[token] = _Outcomes(withdrawn=list(withdrawn))
    for lane in lanes:
        merged = by_token.setdefault(lane.token, _Outcomes())
        out = lane.outcomes
        for name in ("sent", "withdrawn", "retry", "deferred", "failed", "released"):
            getattr(merged, name).extend(getattr(out, name))
        merged.reminded.extend(out.reminded)
        merged.gone.update(out.gone)
        summary.errors.extend(out.errors)
        summary.sent += len(out.sent)
        summary.retried += len(out.retry)
        summary.deferred += len(out.deferred)
        summary.failed += len(out.failed)
    now = clock()
    with uow:
        for claim, out in by_token.items():
            uow.outbox.settle(
                token=claim,
                now=now,
                sent=out.sent,
                withdrawn=out.withdrawn,
                retry=out.retry,
                deferred=out.deferred,
                failed=out.failed,
                released=out.released,
            )
            uow.doses.mark_reminded(out.reminded, now=now)
            uow.devices.remove_devices(out.gone, reason="gone", now=now)
        uow.commit()


def settle_in_flight(
    *, uow: UnitOfWork, clock: Clock, in_flight: list[_Lane], summary: DispatchSummary
) -> None:
    """Wait for the sends still running (each ends by its lane's finish line) and
    record them."""
    wait([lane.future for lane in in_flight if lane.future is not None])
    if in_flight:
        _settle(uow=uow, clock=clock, lanes=list(in_flight), summary=summary)
    in_flight.clear()


def dispatch_due(
    *,
    uow: UnitOfWork,
    clock: Clock,
    notifier: Notifier,
    policy: ReminderPolicy,
    worker: str,
    max_batches: int = 1000,
    should_stop: Callable[[], bool] | None = None,
    threads: int = 1,
) -> DispatchSummary:
    """Send everything due now, a batch at a time, until nothing is left.

    The first batch expires what is too old to send; the others only leave it out,
    so a long backlog is not scanned again for every batch. With `threads` > 1 and a
    notifier that allows it (`concurrent`), different recipients are sent to side by
    side; while a slow send is still running, the run keeps claiming what falls due,
    and it returns once every send it started is recorded.
    """
    summary = DispatchSummary()
    concurrent = threads > 1 and bool(getattr(notifier, "concurrent", False))
    pool = ThreadPoolExecutor(threads, thread_name_prefix="medtrack-send") if concurrent else None
    in_flight: list[_Lane] = []
    try:
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
                pool=pool,
                in_flight=in_flight,
            )
            if claimed < policy.batch:
                if not in_flight:
                    break
                wait(
                    [lane.future for lane in in_flight if lane.future is not None],
                    timeout=PATIENCE_SECONDS,
                    return_when=FIRST_COMPLETED,
                )
    finally:
        settle_in_flight(uow=uow, clock=clock, in_flight=in_flight, summary=summary)
        if pool is not None:
            pool.shutdown(wait=True)
    return summary


def release_claims(*, uow: UnitOfWork, clock: Clock, worker: str) -> int:
    """On shutdown: hand this worker's unfinished claims back at once."""
    with uow:
        released = uow.outbox.release(worker=worker, now=clock())
        uow.commit()
    return released
