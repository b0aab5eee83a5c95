"""Logging an as-needed (PRN) dose, within the prescription's limits."""

from __future__ import annotations

import datetime as dt
import uuid

from service.db.tables import DoseEvent, Prescription, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Schedule, Status
from service.domain.schedule import next_prn_allowed
from service.usecases.access import load_readable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.dose_views import CLOCK_SKEW, DoseView, check_may_log, event_view, snapshot
from service.usecases.errors import Conflict, NotFound, TooSoon, ValidationFailed
from service.usecases.reminders import ReminderPolicy, dose_event_id, withdrawal_risk

PRN_LATEST_LOG = dt.timedelta(hours=48)


def _as_needed_terms(
    uow: UnitOfWork, *, patient_id: uuid.UUID, rx_id: uuid.UUID
) -> tuple[Prescription, PrescriptionVersion, Schedule]:
    """The active as-needed prescription (locked) with its current terms."""
    rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=True)
    if rx is None:
        raise NotFound(f"No prescription {rx_id} for this patient.")
    if rx.status != Status.ACTIVE:
        raise Conflict(f"This prescription is {rx.status}.")
    version = uow.prescriptions.version(rx.id, rx.current_version)
    schedule = Schedule.from_json(version.schedule)
    if not schedule.as_needed or schedule.max_doses_per_day is None:
        raise Conflict("This prescription is not as-needed; log its scheduled doses instead.")
    return rx, version, schedule


def _taken_at(taken_at: dt.datetime | None, *, now: dt.datetime) -> dt.datetime:
    """When the dose was taken, to the second in UTC; in the last 48 hours."""
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
    return min(when, now).astimezone(dt.UTC).replace(microsecond=0)


def _check_limits(
    uow: UnitOfWork, rx: Prescription, drug: str, schedule: Schedule, *, when: dt.datetime
) -> None:
    """TooSoon while the maximum per 24 hours or the minimum interval would be broken."""
    assert schedule.max_doses_per_day is not None
    # Doses either side count (a late entry can sit too close to a later one),
    # as far as the longer of the 24-hour limit and the minimum interval reaches.
    reach = max(dt.timedelta(hours=24), dt.timedelta(hours=float(schedule.min_hours_between or 0)))
    previous = uow.doses.prn_taken(rx.id, since=when - reach, until=when + reach)
    allowed = next_prn_allowed(
        previous,
        at=when,
        max_doses_per_day=schedule.max_doses_per_day,
        min_hours_between=schedule.min_hours_between,
    )
    if allowed is not None:
        raise TooSoon(
            f"Too soon for another dose of {drug}; the next is allowed at "
            f"{allowed.astimezone(dt.UTC).isoformat()}.",
            next_allowed_at=allowed,
        )


def _prn_event(
    rx: Prescription,
    version: PrescriptionVersion,
    *,
    timezone: str,
    when: dt.datetime,
    by: uuid.UUID,
    now: dt.datetime,
    risk: bool,
) -> DoseEvent:
    """An as-needed dose is recorded taken when it is logged."""
    return DoseEvent(
        id=dose_event_id(rx.id, when),
        prescription_id=rx.id,
        patient_id=rx.patient_id,
        version=rx.current_version,
        scheduled_at=when,
        timezone=timezone,
        slot=None,
        drug=version.drug,
        dose_amount=version.dose_amount,
        dose_unit=version.dose_unit,
        withdrawal_risk=risk,
        prn=True,
        status=DoseStatus.TAKEN.value,
        taken_at=when,
        logged_by=by,
        logged_at=now,
        created_at=now,
        updated_at=now,
    )


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
        check_may_log(who, ctx.care_team)
        rx, version, schedule = _as_needed_terms(uow, patient_id=patient_id, rx_id=rx_id)
        when = _taken_at(taken_at, now=now)
        _check_limits(uow, rx, version.drug, schedule, when=when)
        if uow.doses.event(dose_event_id(rx.id, when)) is not None:
            raise Conflict("A dose is already logged at that instant.")
        risk = withdrawal_risk(kb, version.ingredients or ())
        event = _prn_event(
            rx,
            version,
            timezone=ctx.patient.timezone,
            when=when,
            by=who.user_id,
            now=now,
            risk=risk,
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
            after=snapshot(event),
        )
        # Read before the commit, in the same transaction: no round trip after it.
        view = event_view(uow, event, now=now, policy=policy)
        uow.commit()
        return view
