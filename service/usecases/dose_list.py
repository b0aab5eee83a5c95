"""Listing a patient's doses: those recorded, those planned, and beyond the planning
horizon those the current terms will plan."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from service.db.planning import ActiveSchedule
from service.db.uow import UnitOfWork
from service.domain.accounts import Role
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Schedule, plain_amount
from service.domain.taper.calendar import PlannedDose, planned_doses
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.dose_views import DoseView, dose_view
from service.usecases.errors import Forbidden, NotFound
from service.usecases.planning import TAPER_UNIT, plan, taper_calendars
from service.usecases.reminders import ReminderPolicy, dose_event_id
from service.usecases.windows import Bound, local_window

MAX_WINDOW = dt.timedelta(days=31)


@dataclass(frozen=True, kw_only=True)
class _Patient:
    """What listing a patient's doses needs of their record."""

    id: uuid.UUID
    timezone: str


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
            view = _projected_view(rx, p)
            if view.id not in known:
                out.append(view)
    return out


def _projected_view(rx: ActiveSchedule, p: PlannedDose) -> DoseView:
    """A dose planning has yet to plan, as it will."""
    return DoseView(
        id=dose_event_id(rx.prescription_id, p.instant.at),
        prescription_id=rx.prescription_id,
        drug=rx.drug,
        dose_amount=plain_amount(p.amount),
        dose_unit=TAPER_UNIT if p.by_plan else rx.dose_unit,
        scheduled_at=p.instant.at,
        local_time=p.instant.local,
        status=DoseStatus.PENDING,
        prn=False,
        taken_at=None,
        skip_reason=None,
        snoozed_until=None,
        logged_at=None,
    )


def list_doses(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    start: Bound,
    end: Bound,
) -> list[DoseView]:
    """Doses in [start, end) (dates are whole local days, service.usecases.windows):
    recorded and planned ones from the database (planning the patient's horizon
    first, so every dose the app can act on has its row), and, beyond the horizon,
    the doses the current terms will plan."""
    now = clock()
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        patient = _Patient(id=ctx.patient.id, timezone=ctx.patient.timezone)
        start, end = local_window(start, end, timezone=patient.timezone, longest=MAX_WINDOW)
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
    views = [dose_view(e, now=now, policy=policy) for e in events]
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
