"""Sending a claimed batch: each recipient's messages in order, in a lane of their
own, with what became of each message gathered for settling."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field

from service.db.devices import DeviceFacts
from service.db.doses import EventFacts
from service.db.outbox import Claimed
from service.domain.doses import OPEN
from service.domain.messages import DOSE_KINDS, MessageKind
from service.notify.base import Deferred, DeliveryError, Message, Notifier
from service.notify.deadline import deadline
from service.usecases.context import Clock
from service.usecases.dispatch_messages import device, dose_message, stored_message
from service.usecases.reminders import ReminderPolicy

log = logging.getLogger("medtrack.reminders")


def _backoff(policy: ReminderPolicy, attempts: int, retry_after: float | None) -> dt.timedelta:
    factor: int = 2 ** max(attempts - 1, 0)
    delay = min(policy.retry_base * factor, policy.retry_max)
    if retry_after is not None:
        delay = max(delay, dt.timedelta(seconds=min(retry_after, 86400)))
    return delay


@dataclass
class Outcomes:
    sent: list[int] = field(default_factory=list)
    withdrawn: list[int] = field(default_factory=list)
    retry: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    deferred: list[tuple[int, dt.datetime, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    reminded: list[uuid.UUID] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Outcomes) -> None:
        """Take in another lane's outcomes of the same claim, to settle them at once."""
        self.sent.extend(other.sent)
        self.withdrawn.extend(other.withdrawn)
        self.retry.extend(other.retry)
        self.deferred.extend(other.deferred)
        self.failed.extend(other.failed)
        self.released.extend(other.released)
        self.reminded.extend(other.reminded)
        self.gone.update(other.gone)


@dataclass
class Lane:
    """One recipient's messages of one claim, sent in order by one thread: never two
    sends to the same devices at once. No send starts after `start_by` and none runs
    past `finish_by` (time.monotonic), both well inside the claim's lease."""

    token: str
    recipient: uuid.UUID
    start_by: float
    finish_by: float
    items: list[tuple[Claimed, Message, uuid.UUID | None]] = field(default_factory=list)
    outcomes: Outcomes = field(default_factory=Outcomes)
    future: Future[None] | None = None

    def done(self) -> bool:
        return self.future is None or self.future.done()


def send_lane(lane: Lane, *, notifier: Notifier, clock: Clock, policy: ReminderPolicy) -> None:
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
    out: Outcomes,
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


@dataclass(frozen=True)
class Batch:
    """One claim: its token, when it was made (time.monotonic), its rows, and what
    sending them needs: their dose events and their recipients' devices."""

    token: str
    claimed_at: float
    claimed: list[Claimed]
    events: dict[uuid.UUID, EventFacts]
    devices: dict[uuid.UUID, list[DeviceFacts]]


def lanes_of(
    batch: Batch, *, policy: ReminderPolicy, withdrawn: list[int], busy: set[uuid.UUID]
) -> list[Lane]:
    """The claim's messages by recipient; a message about a dose no longer open is
    withdrawn. A recipient whose lane of an earlier batch is still sending gets its
    new messages handed back, not a second lane: never two sends to the same
    devices at once."""
    started = batch.claimed_at
    lease = policy.lease.total_seconds()
    lanes: dict[uuid.UUID, Lane] = {}
    for c in batch.claimed:
        event = batch.events.get(c.dose_event_id) if c.dose_event_id else None
        if c.kind in DOSE_KINDS and (event is None or event.status not in OPEN):
            withdrawn.append(c.id)
            continue
        targets = tuple(device(d) for d in batch.devices.get(c.recipient_id, []))
        message = (
            dose_message(c, event, targets)
            if c.kind in DOSE_KINDS and event is not None
            else stored_message(c, targets)
        )
        lane = lanes.setdefault(
            c.recipient_id,
            Lane(
                token=batch.token,
                recipient=c.recipient_id,
                start_by=started + lease / 2,
                finish_by=started + lease * 3 / 4,
            ),
        )
        if c.recipient_id in busy:
            lane.outcomes.released.append(c.id)
            continue
        reminded = event.id if c.kind == MessageKind.REMINDER and event is not None else None
        lane.items.append((c, message, reminded))
    return list(lanes.values())
