"""Sending a claimed batch: each recipient's messages in order, in a lane of their
own, with what became of each message gathered for settling.

Doses of one patient due at the same instant go as one message (`lanes_of`). The
grouping is done here, at claim time, not when rows are queued: each dose keeps its
own outbox row and idempotency key, so queueing, leases, fencing and expiry stay per
dose and exactly-once per dose holds as before. A claimed group is sent once and its
rows are settled together (sent, retried, deferred, failed or handed back as one).
A dose logged after it was queued is no longer open when its row is claimed: its row
is withdrawn and the dose drops out of the group; a group with nothing left is not
sent. Follow-ups group the same way (by the doses' instant, not the follow-up's own
due time), so two missed doses of 08:00 make one "Did you take your 08:00
medicines?". The claim takes a group's rows together: rows of one instant are due
together, and those a batch limit left out are claimed with it (the claim's siblings,
service.db.outbox_claims). Only a row another dispatcher holds at that moment is left
out, and then the parts go as separate messages: never a lost or repeated dose.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field

from service.db.devices import DeviceFacts
from service.db.doses import EventFacts
from service.db.outbox import Claimed
from service.domain.accounts import NotificationPrivacy
from service.domain.doses import OPEN
from service.domain.messages import DOSE_KINDS, MessageKind
from service.notify.base import Deferred, DeliveryError, Device, Message, Notifier
from service.notify.deadline import deadline
from service.usecases.context import Clock
from service.usecases.dispatch_messages import AdviceFor, device, dose_message, stored_message
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
class Item:
    """One message and the rows it settles: one row, or those of a patient's doses
    due at the same instant; `reminded` are the doses a sent reminder marks."""

    claims: list[Claimed]
    message: Message
    reminded: list[uuid.UUID] = field(default_factory=list)


@dataclass
class Lane:
    """One recipient's messages of one claim, sent in order by one thread: never two
    sends to the same devices at once. No send starts after `start_by` and none runs
    past `finish_by` (time.monotonic), both well inside the claim's lease."""

    token: str
    recipient: uuid.UUID
    start_by: float
    finish_by: float
    items: list[Item] = field(default_factory=list)
    outcomes: Outcomes = field(default_factory=Outcomes)
    future: Future[None] | None = None

    def done(self) -> bool:
        return self.future is None or self.future.done()


def send_lane(lane: Lane, *, notifier: Notifier, clock: Clock, policy: ReminderPolicy) -> None:
    out = lane.outcomes
    for item in lane.items:
        ids = [c.id for c in item.claims]
        left = lane.finish_by - time.monotonic()
        if time.monotonic() > lane.start_by or left <= 0:
            out.released.extend(ids)
            continue
        try:
            # Every HTTP request under this send ends by the lane's finish line.
            with deadline(left):
                report = notifier.send(item.message)
        except Deferred as exc:
            wait = clock() + dt.timedelta(seconds=exc.retry_after or 0.0)
            out.deferred.extend((i, wait, str(exc)) for i in ids)
            continue
        except DeliveryError as exc:
            out.gone.update(exc.gone_devices)
            for c in item.claims:
                _retry_or_fail(out, c, policy, clock, exc.retry_after, str(exc), exc.transient)
            continue
        except Exception as exc:  # a notifier bug must not stop the other messages
            log.exception("notifier %s raised on %s", notifier.name, item.message.idempotency_key)
            out.errors.append(f"{type(exc).__name__}: {exc}")
            for c in item.claims:
                _retry_or_fail(out, c, policy, clock, None, repr(exc), True)
            continue
        out.sent.extend(ids)
        out.gone.update(report.gone_devices)
        out.reminded.extend(item.reminded)


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
    sending them needs: their dose events, their recipients' devices, and their
    patients' (locale, notification privacy)."""

    token: str
    claimed_at: float
    claimed: list[Claimed]
    events: dict[uuid.UUID, EventFacts]
    devices: dict[uuid.UUID, list[DeviceFacts]]
    settings: Mapping[uuid.UUID, tuple[str, str]] = field(default_factory=dict)


def lanes_of(
    batch: Batch,
    *,
    policy: ReminderPolicy,
    withdrawn: list[int],
    busy: set[uuid.UUID],
    advice: AdviceFor,
) -> list[Lane]:
    """The claim's messages by recipient, a patient's doses of one instant as one
    message; a message about a dose no longer open is withdrawn. A recipient whose
    lane of an earlier batch is still sending gets its new messages handed back, not
    a second lane: never two sends to the same devices at once."""
    started = batch.claimed_at
    lease = policy.lease.total_seconds()
    lanes: dict[uuid.UUID, Lane] = {}
    groups: dict[Hashable, list[tuple[Claimed, EventFacts | None]]] = {}
    for c in batch.claimed:
        event = batch.events.get(c.dose_event_id) if c.dose_event_id else None
        if c.kind in DOSE_KINDS and (event is None or event.status not in OPEN):
            withdrawn.append(c.id)
            continue
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
        key: Hashable = (
            (c.recipient_id, c.patient_id, c.kind, event.scheduled_at)
            if c.kind in DOSE_KINDS and event is not None
            else c.id
        )
        groups.setdefault(key, []).append((c, event))
    for members in groups.values():
        recipient = members[0][0].recipient_id
        targets = tuple(device(d) for d in batch.devices.get(recipient, []))
        lanes[recipient].items.append(_item(members, targets, batch, advice))
    return list(lanes.values())


def _item(
    members: list[tuple[Claimed, EventFacts | None]],
    targets: tuple[Device, ...],
    batch: Batch,
    advice: AdviceFor,
) -> Item:
    claims = [c for c, _ in members]
    events = [e for _, e in members if e is not None]
    first = claims[0]
    locale, privacy = batch.settings.get(first.patient_id, ("en", NotificationPrivacy.DISCREET))
    detailed = privacy == NotificationPrivacy.DETAILED
    if first.kind not in DOSE_KINDS or not events:
        return Item(claims, stored_message(first, targets, locale=locale, detailed=detailed))
    message = dose_message(claims, events, targets, locale=locale, detailed=detailed, advice=advice)
    reminded = [e.id for e in events] if first.kind == MessageKind.REMINDER else []
    return Item(claims, message, reminded)
