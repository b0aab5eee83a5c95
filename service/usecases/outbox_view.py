"""Reading the outbox: operators see deliveries, the care team sees what they were.

Administrators keep reminders flowing, so they see counts, states, error classes and
the times of each message's delivery lifecycle under a pseudonymous reference
(service/usecases/message_refs.py), and never its kind, patient, recipient, dose or
content. No coarse category is shown either: every kind but the routine reminder
exists because of a clinical event (a taper step, missed doses, reported withdrawal
symptoms, a new interaction finding), so even "to the care team" versus "to the
patient" says that something happened in someone's care, while the work of an
operator (is the queue moving, which receiver fails and how) needs none of it.

What a message was about is a clinical read, for those who may read the patient
(the care team, and the patient themself), and is audited under the patient. The
operators' reads are audited too, as reads of no patient.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from service.db.outbox import OperationalRow
from service.db.tables import Notification
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role
from service.domain.audit import AuditAction
from service.domain.messages import IN_FLIGHT, MessageStatus
from service.domain.pages import Page
from service.usecases.access import load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, NotFound
from service.usecases.message_refs import MessageRefs, error_class

# As plain strings: schemas list them, and the OpenAPI document with them.
STATUSES = tuple(status.value for status in MessageStatus)
# The next attempt time of a message that will not be tried again is meaningless.
_LIVE = IN_FLIGHT


@dataclass(frozen=True, kw_only=True)
class OperationalMessage:
    ref: str
    status: str
    attempts: int
    last_error_class: str | None
    queued_at: dt.datetime
    next_attempt_at: dt.datetime | None
    updated_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class OutboxSummary:
    as_of: dt.datetime
    notifier: str
    by_status: dict[str, int]
    due: int
    oldest_due_seconds: int | None
    lapsed_claims: int
    retrying_by_error_class: dict[str, int]
    dead_letters: int
    dead_letters_by_error_class: dict[str, int]


@dataclass(frozen=True, kw_only=True)
class MessageDetails:
    ref: str
    kind: str
    patient_id: uuid.UUID
    recipient_id: uuid.UUID
    dose_event_id: uuid.UUID | None
    due_at: dt.datetime
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error_class: str | None
    last_error: str | None
    queued_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None
    payload: dict[str, Any]


def _require_admin(caller: Caller) -> None:
    if caller.require().role is not Role.ADMIN:
        raise Forbidden("Administrators only.")


def _audit_operations_read(
    uow: UnitOfWork, *, caller: Caller, clock: Clock, subtype: str, message_id: int | None = None
) -> None:
    """An operator's read, filed under no patient: it shows no patient's data."""
    record(
        uow,
        caller=caller,
        now=clock(),
        action=AuditAction.READ,
        subtype=subtype,
        entity_type="Notification" if message_id is not None else "Outbox",
        entity_id=message_id,
    )
    uow.commit()


def _operational(row: OperationalRow, refs: MessageRefs) -> OperationalMessage:
    return OperationalMessage(
        ref=refs.ref(row.id),
        status=row.status,
        attempts=row.attempts,
        last_error_class=error_class(row.last_error),
        queued_at=row.created_at,
        # Before its first attempt a message's next attempt is its due time: for a
        # reminder, the dose time itself. Only a retry's backoff or a claim's lease is
        # the service's own timing; how late the queue runs is in the summary.
        next_attempt_at=(row.next_attempt_at if row.status in _LIVE and row.attempts > 0 else None),
        updated_at=row.updated_at,
        sent_at=row.sent_at,
    )


def list_operational(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    refs: MessageRefs,
    status: str | None,
    limit: int,
    offset: int,
) -> Page[OperationalMessage]:
    """The outbox for administrators, newest first (dead letters: status=failed)."""
    _require_admin(caller)
    with uow:
        rows = uow.outbox.operational_page(status=status, limit=limit, offset=offset)
        _audit_operations_read(uow, caller=caller, clock=clock, subtype="outbox.list")
    return rows.map(lambda r: _operational(r, refs))


def find_operational(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, refs: MessageRefs, ref: str
) -> OperationalMessage:
    """One message's delivery, by the reference a colleague or a log line gave."""
    _require_admin(caller)
    message_id = refs.message_id(ref)
    with uow:
        row = uow.outbox.operational_row(message_id) if message_id is not None else None
        if row is None:
            raise NotFound("No message with this reference.")
        _audit_operations_read(
            uow, caller=caller, clock=clock, subtype="outbox.read", message_id=row.id
        )
    return _operational(row, refs)


def _by_class(texts: list[tuple[str, int]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for text, count in texts:
        counts[error_class(text) or "other"] += count
    return dict(sorted(counts.items()))


def summarise(*, uow: UnitOfWork, caller: Caller, clock: Clock, notifier: str) -> OutboxSummary:
    """Counts for administrators: how much waits, how late, what fails and how."""
    _require_admin(caller)
    now = clock()
    with uow:
        counts = uow.outbox.status_counts()
        waiting = uow.outbox.waiting(now=now)
        retrying = uow.outbox.error_texts(status=MessageStatus.PENDING, retried_only=True)
        dead = uow.outbox.error_texts(status=MessageStatus.FAILED)
        _audit_operations_read(uow, caller=caller, clock=clock, subtype="outbox.summary")
    due, oldest = waiting.get(MessageStatus.PENDING, (0, None))
    return OutboxSummary(
        as_of=now,
        notifier=notifier,
        by_status={s: counts.get(s, 0) for s in STATUSES},
        due=due,
        oldest_due_seconds=None if oldest is None else max(int((now - oldest).total_seconds()), 0),
        lapsed_claims=waiting.get(MessageStatus.CLAIMED, (0, None))[0],
        retrying_by_error_class=_by_class(retrying),
        dead_letters=counts.get(MessageStatus.FAILED, 0),
        dead_letters_by_error_class=_by_class(dead),
    )


def _shown_to(who: Principal, message: Notification) -> bool:
    """The care team sees every message about the patient; the patient, only those
    sent to them (what reaches the care team is the team's)."""
    return who.role is not Role.PATIENT or message.recipient_id == who.user_id


def _details(message: Notification, refs: MessageRefs, who: Principal) -> MessageDetails:
    assert message.id is not None
    return MessageDetails(
        ref=refs.ref(message.id),
        kind=message.kind,
        patient_id=message.patient_id,
        recipient_id=message.recipient_id,
        dose_event_id=message.dose_event_id,
        due_at=message.due_at,
        status=message.status,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at if message.status in _LIVE else None,
        last_error_class=error_class(message.last_error),
        # The receiver's own words name devices and endpoints: the care team's to read.
        last_error=message.last_error if who.role is not Role.PATIENT else None,
        queued_at=message.created_at,
        updated_at=message.updated_at,
        sent_at=message.sent_at,
        payload=dict(message.payload or {}),
    )


def message_details(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    refs: MessageRefs,
    patient_id: uuid.UUID,
    ref: str,
) -> MessageDetails:
    """What a message about the patient was: for those who may read the patient."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        message_id = refs.message_id(ref)
        message = uow.outbox.message(message_id) if message_id is not None else None
        who = caller.require()
        if message is None or message.patient_id != patient_id or not _shown_to(who, message):
            raise NotFound("No message with this reference about this patient.")
        details = _details(message, refs, who)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="notification.read",
            entity_type="Notification",
            entity_id=message_id,
            patient_id=patient_id,
        )
    return details


def messages_about(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    refs: MessageRefs,
    patient_id: uuid.UUID,
    limit: int,
    offset: int,
) -> Page[MessageDetails]:
    """Messages about the patient, newest first: to them, or to their care team
    (the patient sees those sent to them)."""
    who = caller.require()
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        recipient = who.user_id if who.role is Role.PATIENT else None
        details = uow.outbox.messages_about(
            patient_id, recipient_id=recipient, limit=limit, offset=offset
        ).map(lambda m: _details(m, refs, who))
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="notification.list",
            entity_type="Notification",
            patient_id=patient_id,
        )
    return details
