"""Queueing due messages and dispatching them: claim, send, settle.

Each function opens its own transactions and is safe to run again, or in several
processes at once. Messages are written in dispatch_messages.py and sent, a lane
per recipient, in dispatch_lanes.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from service.db.devices import DeviceFacts
from service.db.doses import EventFacts
from service.db.outbox import Claimed, new_claim_token
from service.db.uow import UnitOfWork
from service.domain.doses import DoseStatus
from service.domain.messages import DOSE_KINDS, MessageKind
from service.notify.base import Notifier
from service.usecases.context import Clock
from service.usecases.dispatch_lanes import Batch, Lane, Outcomes, lanes_of, send_lane
from service.usecases.dispatch_messages import AdviceFor
from service.usecases.missed_doses import shipped_advice
from service.usecases.reminders import ReminderPolicy

# How long a batch waits for its sends before it settles what has finished; sends
# still running (a slow receiver) are settled by a later pass of the same run, so a
# slow receiver never holds back the claim of messages falling due meanwhile.
PATIENCE_SECONDS = 0.25


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
            kind=MessageKind.REMINDER,
            statuses=(DoseStatus.PENDING,),
            scheduled_after=now - policy.expiry,
            scheduled_until=now + policy.lead,
            now=now,
        )
        summary.follow_ups = uow.outbox.enqueue_dose_messages(
            kind=MessageKind.FOLLOW_UP,
            statuses=(DoseStatus.REMINDED,),
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


def _claim(
    *, uow: UnitOfWork, clock: Clock, policy: ReminderPolicy, worker: str, expire: bool
) -> Batch:
    """Claim one batch (after expiring what is too old, with `expire`), and read what
    sending it needs in the claim's transaction: one transaction per batch fewer."""
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
        doses = [c for c in claimed if c.kind in DOSE_KINDS]
        if doses:
            # A patient's doses of one instant go as one message: never split by the limit.
            claimed += uow.outbox.claim_siblings(
                of=doses, worker=worker, now=now, lease=policy.lease, token=token
            )
        events, devices = _read_facts(uow, claimed) if claimed else ({}, {})
        settings = uow.patients.notification_settings(list({c.patient_id for c in claimed}))
        uow.commit()
    return Batch(
        token=token,
        claimed_at=claimed_at,
        claimed=claimed,
        events=events,
        devices=devices,
        settings=settings,
    )


def _read_facts(
    uow: UnitOfWork, claimed: list[Claimed]
) -> tuple[dict[uuid.UUID, EventFacts], dict[uuid.UUID, list[DeviceFacts]]]:
    """The claimed rows' dose events (those the claim did not read with them) and
    their recipients' devices."""
    events = {c.event.id: c.event for c in claimed if c.event is not None}
    unread = {c.dose_event_id for c in claimed if c.dose_event_id is not None and c.event is None}
    events.update(uow.doses.event_facts(unread))
    return events, uow.devices.device_facts({c.recipient_id for c in claimed})


def _send(
    lanes: list[Lane],
    *,
    notifier: Notifier,
    clock: Clock,
    policy: ReminderPolicy,
    pool: ThreadPoolExecutor | None,
) -> None:
    """Send each lane: in turn, or on the pool's threads, waiting PATIENCE_SECONDS."""
    if pool is None:
        for lane in lanes:
            send_lane(lane, notifier=notifier, clock=clock, policy=policy)
        return
    for lane in lanes:
        lane.future = pool.submit(send_lane, lane, notifier=notifier, clock=clock, policy=policy)
    wait([lane.future for lane in lanes if lane.future is not None], timeout=PATIENCE_SECONDS)


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
    in_flight: list[Lane] | None = None,
    advice: AdviceFor = shipped_advice,
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
    batch = _claim(uow=uow, clock=clock, policy=policy, worker=worker, expire=expire)
    withdrawn: list[int] = []
    waiting = in_flight if in_flight is not None else []
    if batch.claimed:
        busy = {lane.recipient for lane in waiting if not lane.done()}
        lanes = lanes_of(batch, policy=policy, withdrawn=withdrawn, busy=busy, advice=advice)
        _send(lanes, notifier=notifier, clock=clock, policy=policy, pool=pool)
        waiting.extend(lanes)
    finished = [lane for lane in waiting if lane.done()]
    waiting[:] = [lane for lane in waiting if not lane.done()]
    if finished or withdrawn:
        _settle(
            uow=uow,
            clock=clock,
            lanes=finished,
            summary=summary,
            token=batch.token,
            withdrawn=withdrawn,
        )
    summary.claimed += len(batch.claimed)
    summary.withdrawn += len(withdrawn)
    summary.batches += 1 if batch.claimed else 0
    return len(batch.claimed)


def _settle(
    *,
    uow: UnitOfWork,
    clock: Clock,
    lanes: list[Lane],
    summary: DispatchSummary,
    token: str | None = None,
    withdrawn: Sequence[int] = (),
) -> None:
    """Record finished sends, one statement set per claim (token)."""
    by_token: dict[str, Outcomes] = {}
    if token is not None:
        by_token[token] = Outcomes(withdrawn=list(withdrawn))
    for lane in lanes:
        out = lane.outcomes
        by_token.setdefault(lane.token, Outcomes()).add(out)
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
    *, uow: UnitOfWork, clock: Clock, in_flight: list[Lane], summary: DispatchSummary
) -> None:
    """Wait for the sends still running (each ends by its lane's finish line) and
    record them."""
    wait([lane.future for lane in in_flight if lane.future is not None])
    if in_flight:
        _settle(uow=uow, clock=clock, lanes=list(in_flight), summary=summary)
    in_flight.clear()


def _pool(notifier: Notifier, threads: int) -> ThreadPoolExecutor | None:
    """Threads to send to different recipients side by side, where the notifier
    allows it (`concurrent`)."""
    if threads > 1 and bool(getattr(notifier, "concurrent", False)):
        return ThreadPoolExecutor(threads, thread_name_prefix="medtrack-send")
    return None


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
    advice: AdviceFor = shipped_advice,
) -> DispatchSummary:
    """Send everything due now, a batch at a time, until nothing is left.

    The first batch expires what is too old to send; the others only leave it out,
    so a long backlog is not scanned again for every batch. With `threads` > 1 and a
    notifier that allows it (`concurrent`), different recipients are sent to side by
    side; while a slow send is still running, the run keeps claiming what falls due,
    and it returns once every send it started is recorded. `advice` gives a drug's
    missed-dose advice for follow-ups (by default from the shipped catalog).
    """
    summary = DispatchSummary()
    pool = _pool(notifier, threads)
    in_flight: list[Lane] = []
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
                advice=advice,
            )
            if claimed < policy.batch:
                if not in_flight:
                    break
                futures = [lane.future for lane in in_flight if lane.future is not None]
                wait(futures, timeout=PATIENCE_SECONDS, return_when=FIRST_COMPLETED)
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
