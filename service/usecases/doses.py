"""The patient's doses: list them, log them taken or skipped, snooze a reminder,
log an as-needed dose, and adherence over a period.

Listing is in dose_list.py and as-needed doses in prn.py; their names are
importable from here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from service.db.outbox import queued
from service.db.tables import DoseEvent
from service.db.uow import UnitOfWork
from service.domain.accounts import Role, can_read_patient
from service.domain.audit import AuditAction
from service.domain.doses import DoseAction, check_not_withdrawn, dose_transition, log_dose
from service.domain.errors import TransitionError
from service.domain.messages import MessageKind
from service.usecases.access import load_readable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.dose_list import MAX_WINDOW, list_doses, todays_doses
from service.usecases.dose_views import (
    CLOCK_SKEW,
    DoseView,
    check_may_log,
    event_view,
    shown_status,
    snapshot,
)
from service.usecases.errors import Conflict, NotFound, ValidationFailed
from service.usecases.prn import PRN_LATEST_LOG, log_prn_dose
from service.usecases.reminders import ReminderPolicy

__all__ = [
    "CLOCK_SKEW",
    "EARLIEST_TAKEN_BEFORE",
    "MAX_SNOOZES",
    "MAX_WINDOW",
    "PRN_LATEST_LOG",
    "SNOOZE_MINUTES",
    "DoseView",
    "list_doses",
    "log_prn_dose",
    "mark_skipped",
    "mark_taken",
    "shown_status",
    "snooze",
    "todays_doses",
]

# Late logging is allowed; logging a dose taken long before its time is a mistake.
EARLIEST_TAKEN_BEFORE = dt.timedelta(hours=12)
SNOOZE_MINUTES = (5, 240)
MAX_SNOOZES = 6


def _load_event(uow: UnitOfWork, caller: Caller, dose_id: uuid.UUID) -> DoseEvent:
    """The scheduled dose if the caller may log it: the patient, or a clinician on
    the team."""
    uow.serialise_writes()
    event = uow.doses.event(dose_id, for_update=True)
    if event is None:
        raise NotFound(f"No dose {dose_id}.")
    who = caller.require()
    if who.role is Role.PATIENT:
        # A patient's access turns on the dose's patient alone: no care team to load.
        if not can_read_patient(who, patient_id=event.patient_id, care_team=()):
            raise NotFound(f"No dose {dose_id}.")
        return _loggable(event)
    try:
        ctx = load_readable_patient(uow, caller=caller, patient_id=event.patient_id)
    except NotFound:
        raise NotFound(f"No dose {dose_id}.") from None
    check_may_log(who, ctx.care_team)
    return _loggable(event)


def _loggable(event: DoseEvent) -> DoseEvent:
    try:
        check_not_withdrawn(event.status)
    except TransitionError as exc:
        raise Conflict(str(exc)) from None
    if event.prn:
        raise Conflict(
            "An as-needed dose is recorded when it is taken; it cannot be re-logged, "
            "skipped or snoozed."
        )
    return event


def _audit_change(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    event: DoseEvent,
    subtype: str,
    before: dict[str, Any],
) -> None:
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype=subtype,
        entity_type="DoseEvent",
        entity_id=event.id,
        patient_id=event.patient_id,
        before=before,
        after=snapshot(event),
    )


def _log(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    event: DoseEvent,
    action: DoseAction,
    before: dict[str, Any],
) -> None:
    """Move the dose as logging it `action` does (`_loggable` refused the one dose
    the domain would not), save it, withdraw the messages still queued about it,
    and audit the change: a correction, if it was logged or missed before."""
    status, corrects = log_dose(event.status, action)
    event.status = status.value
    event.logged_by = caller.require().user_id
    event.logged_at = now
    event.updated_at = now
    uow.doses.save_event(event)
    uow.outbox.withdraw_messages_for(event.id, now=now)
    subtype = f"dose.{'correct' if corrects else status.value}"
    _audit_change(uow, caller=caller, now=now, event=event, subtype=subtype, before=before)


def _taken_at(taken_at: dt.datetime | None, event: DoseEvent, *, now: dt.datetime) -> dt.datetime:
    """When the dose was taken: now, or earlier (late logging)."""
    when = taken_at or now
    if when.tzinfo is None:
        raise ValidationFailed(
            "taken_at needs a UTC offset.", errors={"taken_at": ["Add an offset."]}
        )
    if when > now + CLOCK_SKEW:
        raise ValidationFailed(
            "A dose cannot be logged as taken in the future.",
            errors={"taken_at": ["Must not be in the future."]},
        )
    if when < event.scheduled_at - EARLIEST_TAKEN_BEFORE:
        raise ValidationFailed(
            "That is long before the dose was due; log the dose it belongs to.",
            errors={"taken_at": ["More than 12 hours before the scheduled time."]},
        )
    return min(when, now)


def mark_taken(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    policy: ReminderPolicy,
    dose_id: uuid.UUID,
    taken_at: dt.datetime | None,
) -> DoseView:
    """Log a dose taken, now or earlier (late logging); a second log corrects the
    first, and the audit log keeps both."""
    now = clock()
    with uow:
        event = _load_event(uow, caller, dose_id)
        when = _taken_at(taken_at, event, now=now)
        before = snapshot(event)
        event.taken_at = when
        event.skip_reason = None
        _log(uow, caller=caller, now=now, event=event, action=DoseAction.TAKE, before=before)
        # Read before the commit, in the same transaction: no round trip after it.
        view = event_view(uow, event, now=now, policy=policy)
        uow.commit()
        return view


def mark_skipped(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    policy: ReminderPolicy,
    dose_id: uuid.UUID,
    reason: str | None,
) -> DoseView:
    now = clock()
    with uow:
        event = _load_event(uow, caller, dose_id)
        before = snapshot(event)
        event.taken_at = None
        event.skip_reason = (reason or "").strip() or None
        _log(uow, caller=caller, now=now, event=event, action=DoseAction.SKIP, before=before)
        # Read before the commit, in the same transaction: no round trip after it.
        view = event_view(uow, event, now=now, policy=policy)
        uow.commit()
        return view


def _check_snooze(
    event: DoseEvent, *, now: dt.datetime, policy: ReminderPolicy, minutes: int
) -> None:
    """Only an open dose that is due, and not past the time it counts as missed,
    can be snoozed, and only so many times."""
    try:
        dose_transition(shown_status(event, now=now, policy=policy), DoseAction.SNOOZE)
    except TransitionError as exc:
        raise Conflict(str(exc)) from None
    if event.scheduled_at > now:
        raise Conflict("This dose is not due yet; it can be snoozed once it is.")
    missed_at = event.scheduled_at + policy.missed_after
    if now + dt.timedelta(minutes=minutes) >= missed_at:
        raise Conflict(
            "That is past the time the dose counts as missed "
            f"({missed_at.astimezone(dt.UTC).isoformat()}); snooze for less, or log it."
        )
    if event.snoozes >= MAX_SNOOZES:
        raise Conflict(f"This dose has been snoozed {MAX_SNOOZES} times already.")


def _snooze_reminder(
    event: DoseEvent, *, recipient_id: uuid.UUID, now: dt.datetime
) -> dict[str, Any]:
    """The reminder a snooze queues, one per snooze of the dose."""
    assert event.snoozed_until is not None
    return queued(
        key=f"{MessageKind.SNOOZE}:{event.id}:{event.snoozes}",
        kind=MessageKind.SNOOZE,
        recipient_id=recipient_id,
        patient_id=event.patient_id,
        dose_event_id=event.id,
        due_at=event.snoozed_until,
        now=now,
    )


def snooze(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    policy: ReminderPolicy,
    dose_id: uuid.UUID,
    minutes: int,
) -> DoseView:
    """Remind again in `minutes`; only a dose not yet logged can be snoozed."""
    low, high = SNOOZE_MINUTES
    if not low <= minutes <= high:
        raise ValidationFailed(
            "Snooze for a while.", errors={"minutes": [f"Must be between {low} and {high}."]}
        )
    now = clock()
    with uow:
        event = _load_event(uow, caller, dose_id)
        _check_snooze(event, now=now, policy=policy, minutes=minutes)
        patient = uow.patients.get(event.patient_id)
        assert patient is not None
        before = snapshot(event)
        event.snoozes += 1
        event.snoozed_until = now + dt.timedelta(minutes=minutes)
        event.updated_at = now
        uow.doses.save_event(event)
        uow.outbox.add_messages([_snooze_reminder(event, recipient_id=patient.user_id, now=now)])
        _audit_change(
            uow, caller=caller, now=now, event=event, subtype="dose.snooze", before=before
        )
        # Read before the commit, in the same transaction: no round trip after it.
        view = event_view(uow, event, now=now, policy=policy)
        uow.commit()
        return view
