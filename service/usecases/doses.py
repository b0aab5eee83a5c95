"""The patient's doses: list them, log them taken or skipped, snooze a reminder,
log an as-needed dose, and adherence over a period."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.db.doses import CANCELLED, MISSED, OPEN, PENDING, SKIPPED, TAKEN, DoseRow
from service.db.outbox import queued
from service.db.tables import DoseEvent
from service.db.uow import UnitOfWork
from service.domain.accounts import Role, can_read_patient
from service.domain.audit import AuditAction
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Schedule, plain_amount
from service.domain.schedule import next_prn_allowed
from service.domain.taper.calendar import planned_doses
from service.usecases.access import load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden, NotFound, TooSoon, ValidationFailed
from service.usecases.planning import TAPER_UNIT, plan, taper_calendars
from service.usecases.reminders import SNOOZE, ReminderPolicy, dose_event_id, withdrawal_risk

MAX_WINDOW = dt.timedelta(days=31)
# Late logging is allowed; logging a dose taken long before its time is a mistake.
EARLIEST_TAKEN_BEFORE = dt.timedelta(hours=12)
# Clocks of phones drift; a taken_at this far ahead of the server is accepted.
CLOCK_SKEW = dt.timedelta(minutes=5)
SNOOZE_MINUTES = (5, 240)
PRN_LATEST_LOG = dt.timedelta(hours=48)
MAX_SNOOZES = 6


@dataclass(frozen=True, kw_only=True)
class DoseView:
    id: uuid.UUID
    prescription_id: uuid.UUID
    drug: str
    dose_amount: Decimal
    dose_unit: str
    scheduled_at: dt.datetime
    local_time: dt.datetime
    status: str
    prn: bool
    taken_at: dt.datetime | None
    skip_reason: str | None
    snoozed_until: dt.datetime | None
    logged_at: dt.datetime | None

    @property
    def dose(self) -> dict[str, Any]:
        return {"amount": float(self.dose_amount), "unit": self.dose_unit}


def shown_status(e: DoseEvent | DoseRow, *, now: dt.datetime, policy: ReminderPolicy) -> str:
    """The stored status, with an open dose past the missed mark shown as missed
    even before the follow-up job has recorded it."""
    if e.status in OPEN and e.scheduled_at <= now - policy.missed_after:
        return MISSED
    return e.status


def _view(e: DoseEvent | DoseRow, *, now: dt.datetime, policy: ReminderPolicy) -> DoseView:
    return DoseView(
        id=e.id,
        prescription_id=e.prescription_id,
        drug=e.drug,
        dose_amount=plain_amount(Decimal(e.dose_amount)),
        dose_unit=e.dose_unit,
        scheduled_at=e.scheduled_at,
        local_time=e.scheduled_at.astimezone(zoneinfo.ZoneInfo(e.timezone)),
        status=shown_status(e, now=now, policy=policy),
        prn=e.prn,
        taken_at=e.taken_at,
        skip_reason=e.skip_reason,
        snoozed_until=e.snoozed_until,
        logged_at=e.logged_at,
    )


@dataclass(frozen=True, kw_only=True)
class _Patient:
    """What listing a patient's doses needs of their record."""

    id: uuid.UUID
    timezone: str


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed(
            "Give instants with a UTC offset.",
            errors={"from": ["Include an offset, e.g. Z."], "to": ["Include an offset."]},
        )
    if end <= start:
        raise ValidationFailed("The window is empty.", errors={"to": ["Must be after from."]})
    if end - start > MAX_WINDOW:
        raise ValidationFailed(
            "The window is too long.",
            errors={"to": [f"At most {MAX_WINDOW.days} days after from."]},
        )


def _projected(
    uow: UnitOfWork,
    patient: _Patient,
    *,
    start: dt.datetime,
    end: dt.datetime,
    known: set[uuid.UUID],
) -> list[DoseView]:
    """Doses beyond the planning horizon, as planning will plan them: from the
    approved taper plan on the dates it governs, from the current terms otherwise."""
    out: list[DoseView] = []
    zone = zoneinfo.ZoneInfo(patient.timezone)
    schedules = uow.planning.active_schedules(patient_id=patient.id)
    calendars = taper_calendars(uow, schedules)
    for rx in schedules:
        schedule = Schedule.from_json(rx.schedule)
        calendar = calendars.get(rx.prescription_id)
        window_start = max(start, rx.version_created_at)
        if (schedule.as_needed and calendar is None) or window_start >= end:
            continue
        for p in planned_doses(
            schedule,
            Decimal(rx.dose_amount),
            calendar,
            start_date=rx.start_date,
            end_date=rx.end_date,
            zone=zone,
            window_start=window_start,
            window_end=end,
        ):
            event_id = dose_event_id(rx.prescription_id, p.instant.at)
            if event_id in known:
                continue
            out.append(
                DoseView(
                    id=event_id,
                    prescription_id=rx.prescription_id,
                    drug=rx.drug,
                    dose_amount=plain_amount(p.amount),
                    dose_unit=TAPER_UNIT if p.by_plan else rx.dose_unit,
                    scheduled_at=p.instant.at,
                    local_time=p.instant.local,
                    status=PENDING,
                    prn=False,
                    taken_at=None,
                    skip_reason=None,
                    snoozed_until=None,
                    logged_at=None,
                )
            )
    return out


def list_doses(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    start: dt.datetime,
    end: dt.datetime,
) -> list[DoseView]:
    """Doses in [start, end): recorded and planned ones from the database (planning
    the patient's horizon first, so every dose the app can act on has its row),
    and, beyond the horizon, the doses the current terms will plan."""
    _check_window(start, end)
    now = clock()
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        patient = _Patient(id=ctx.patient.id, timezone=ctx.patient.timezone)
        return _doses_between(
            uow, caller, clock, kb, policy, patient, now=now, start=start, end=end
        )


def _doses_between(
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient: _Patient,
    *,
    now: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
) -> list[DoseView]:
    """list_doses, inside its unit of work, once the caller may read the patient."""
    plan(uow, kb, policy, now=now, patient_id=patient.id)
    events = uow.doses.rows_between(patient_id=patient.id, start=start, end=end)
    views = [_view(e, now=now, policy=policy) for e in events]
    horizon = now + policy.horizon
    if end > horizon:
        views.extend(
            _projected(
                uow,
                patient,
                start=max(start, horizon),
                end=end,
                known={e.id for e in events},
            )
        )
    record_read(
        uow,
        caller=caller,
        clock=clock,
        subtype="dose.list",
        entity_type="DoseEvent",
        patient_id=patient.id,
    )
    views.sort(key=lambda v: (v.scheduled_at, str(v.id)))
    return views


def todays_doses(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
) -> tuple[dt.date, list[DoseView]]:
    """The signed-in patient's doses for their local today.

    The app's home screen, so one unit of work: a patient reads their own record,
    which needs only their patient row (no care team)."""
    who = caller.require()
    if who.role is not Role.PATIENT or who.patient_id is None:
        raise Forbidden("Only a patient has doses of their own.")
    now = clock()
    with uow:
        timezone = uow.patients.timezone(who.patient_id)
        if timezone is None:
            raise NotFound("No patient record for this account.")
        patient = _Patient(id=who.patient_id, timezone=timezone)
        zone = zoneinfo.ZoneInfo(timezone)
        today = now.astimezone(zone).date()
        start = dt.datetime.combine(today, dt.time(0), zone).astimezone(dt.UTC)
        end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), zone).astimezone(dt.UTC)
        doses = _doses_between(
            uow, caller, clock, kb, policy, patient, now=now, start=start, end=end
        )
    return today, doses


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
    if who.role is Role.ADMIN or (who.role is Role.CLINICIAN and who.user_id not in ctx.care_team):
        raise Forbidden("Only the patient or their care team may log doses.")
    return _loggable(event)


def _loggable(event: DoseEvent) -> DoseEvent:
    if event.status == CANCELLED:
        raise Conflict("This dose was withdrawn when the prescription changed.")
    if event.prn:
        raise Conflict(
            "An as-needed dose is recorded when it is taken; it cannot be re-logged, "
            "skipped or snoozed."
        )
    return event


def _snapshot(e: DoseEvent) -> dict[str, Any]:
    return {
        "status": e.status,
        "taken_at": e.taken_at.isoformat() if e.taken_at else None,
        "skip_reason": e.skip_reason,
        "snoozed_until": e.snoozed_until.isoformat() if e.snoozed_until else None,
    }


def _log(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    event: DoseEvent,
    subtype: str,
    before: dict[str, Any],
) -> None:
    corrected = before["status"] in (TAKEN, SKIPPED, MISSED)
    event.logged_by = caller.require().user_id
    event.logged_at = now
    event.updated_at = now
    uow.doses.save_event(event)
    uow.outbox.withdraw_messages_for(event.id, now=now)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype=f"dose.{'correct' if corrected else subtype}",
        entity_type="DoseEvent",
        entity_id=event.id,
        patient_id=event.patient_id,
        before=before,
        after=_snapshot(event),
    )


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
        before = _snapshot(event)
        event.status = TAKEN
        event.taken_at = min(when, now)
        event.skip_reason = None
        _log(uow, caller=caller, now=now, event=event, subtype="taken", before=before)
        uow.commit()
        return _view(event, now=now, policy=policy)


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
        before = _snapshot(event)
        event.status = SKIPPED
        event.taken_at = None
        event.skip_reason = (reason or "").strip() or None
        _log(uow, caller=caller, now=now, event=event, subtype="skipped", before=before)
        uow.commit()
        return _view(event, now=now, policy=policy)


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
        status = shown_status(event, now=now, policy=policy)
        if status not in OPEN:
            raise Conflict(f"This dose is {status}; only a dose not yet logged can be snoozed.")
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
        patient = uow.patients.get(event.patient_id)
        assert patient is not None
        before = _snapshot(event)
        until = now + dt.timedelta(minutes=minutes)
        event.snoozes += 1
        event.snoozed_until = until
        event.updated_at = now
        uow.doses.save_event(event)
        uow.outbox.add_messages(
            [
                queued(
                    key=f"{SNOOZE}:{event.id}:{event.snoozes}",
                    kind=SNOOZE,
                    recipient_id=patient.user_id,
                    patient_id=event.patient_id,
                    dose_event_id=event.id,
                    due_at=until,
                    now=now,
                )
            ]
        )
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.UPDATE,
            subtype="dose.snooze",
            entity_type="DoseEvent",
            entity_id=event.id,
            patient_id=event.patient_id,
            before=before,
            after=_snapshot(event),
        )
        uow.commit()
        return _view(event, now=now, policy=policy)


def log_prn_dose(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    taken_at: dt.datetime | None,
) -> DoseView:
    """Log an as-needed dose, refused while the maximum per 24 hours or the
    minimum interval would be broken (409 saying when the next is allowed)."""
    now = clock()
    with uow:
        # Two doses logged at once must not both pass the limits.
        uow.serialise_writes()
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        who = caller.require()
        if who.role is Role.ADMIN or (
            who.role is Role.CLINICIAN and who.user_id not in ctx.care_team
        ):
            raise Forbidden("Only the patient or their care team may log doses.")
        rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=True)
        if rx is None:
            raise NotFound(f"No prescription {rx_id} for this patient.")
        if rx.status != "active":
            raise Conflict(f"This prescription is {rx.status}.")
        version = uow.prescriptions.version(rx.id, rx.current_version)
        schedule = Schedule.from_json(version.schedule)
        if not schedule.as_needed or schedule.max_doses_per_day is None:
            raise Conflict("This prescription is not as-needed; log its scheduled doses instead.")
        when = taken_at or now
        if when.tzinfo is None or when > now + CLOCK_SKEW:
            raise ValidationFailed(
                "taken_at must have an offset and not be in the future.",
                errors={"taken_at": ["Must not be in the future."]},
            )
        if when < now - PRN_LATEST_LOG:
            raise ValidationFailed(
                "As-needed doses are logged within 48 hours of taking them.",
                errors={"taken_at": ["At most 48 hours ago."]},
            )
        when = min(when, now).astimezone(dt.UTC).replace(microsecond=0)
        # Doses either side count (a late entry can sit too close to a later one),
        # as far as the longer of the 24-hour limit and the minimum interval reaches.
        reach = max(
            dt.timedelta(hours=24), dt.timedelta(hours=float(schedule.min_hours_between or 0))
        )
        previous = uow.doses.prn_taken(rx.id, since=when - reach, until=when + reach)
        allowed = next_prn_allowed(
            previous,
            at=when,
            max_doses_per_day=schedule.max_doses_per_day,
            min_hours_between=schedule.min_hours_between,
        )
        if allowed is not None:
            raise TooSoon(
                f"Too soon for another dose of {version.drug}; the next is allowed at "
                f"{allowed.astimezone(dt.UTC).isoformat()}.",
                next_allowed_at=allowed,
            )
        event_id = dose_event_id(rx.id, when)
        if uow.doses.event(event_id) is not None:
            raise Conflict("A dose is already logged at that instant.")
        event = DoseEvent(
            id=event_id,
            prescription_id=rx.id,
            patient_id=patient_id,
            version=rx.current_version,
            scheduled_at=when,
            timezone=ctx.patient.timezone,
            slot=None,
            drug=version.drug,
            dose_amount=version.dose_amount,
            dose_unit=version.dose_unit,
            withdrawal_risk=withdrawal_risk(kb, version.ingredients or ()),
            prn=True,
            status=TAKEN,
            taken_at=when,
            logged_by=who.user_id,
            logged_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.doses.add_event(event)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype="dose.prn",
            entity_type="DoseEvent",
            entity_id=event.id,
            patient_id=patient_id,
            after=_snapshot(event),
        )
        uow.commit()
        return _view(event, now=now, policy=policy)
