"""Planning dose events from prescriptions for a rolling horizon, and planning
them again when terms, status or the patient's time zone change."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Any

from service.db.planning import ActiveSchedule
from service.db.uow import UnitOfWork
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Schedule
from service.domain.taper.calendar import (
    PlannedDose,
    TaperCalendar,
    planned_doses,
    taper_calendar,
)
from service.usecases.context import Clock
from service.usecases.reminders import ReminderPolicy, dose_event_id, withdrawal_risk

# A taper plan's amounts are in mg, as the step's terms are written
# (service/domain/taper/changes.py, step_terms).
TAPER_UNIT = "mg"
# A planned dose's status, as the driver is given it (a plain string).
_PLANNED = DoseStatus.PENDING.value


def taper_calendars(
    uow: UnitOfWork, schedules: Sequence[ActiveSchedule]
) -> dict[uuid.UUID, TaperCalendar]:
    """The calendar of each prescription's taper plan under way, by prescription:
    one query for the whole batch. A pause holds the step of the day it was paused in
    the patient's zone, the day resuming counts from (taper_plans.resume_taper_plan)."""
    plans = uow.tapers.plans_under_way([rx.prescription_id for rx in schedules])
    if not plans:
        return {}
    zones = {rx.prescription_id: rx.timezone for rx in schedules}
    out = {}
    for rx_id, found in plans.items():
        paused_on = None
        if found.paused_at is not None:
            paused_on = found.paused_at.astimezone(zoneinfo.ZoneInfo(zones[rx_id])).date()
        calendar = taper_calendar(found.plan, status=found.status, paused_on=paused_on)
        if calendar is not None:
            out[rx_id] = calendar
    return out


def _planned_rows(
    kb: KnowledgeBase,
    rx: ActiveSchedule,
    calendar: TaperCalendar | None,
    *,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    skip: set[tuple[uuid.UUID, dt.date, str]] | None = None,
) -> list[dict[str, Any]]:
    """The rows of the doses due in [start, end): on the dates an approved taper
    plan governs, its administrations and amounts (in mg), otherwise the terms'."""
    schedule = Schedule.from_json(rx.schedule)
    if (schedule.as_needed and calendar is None) or start >= end:
        return []
    risk = withdrawal_risk(kb, rx.ingredients)
    rows = []
    for p in planned_doses(
        schedule,
        rx.dose_amount,
        calendar,
        start_date=rx.start_date,
        end_date=rx.end_date,
        zone=zoneinfo.ZoneInfo(rx.timezone),
        window_start=start,
        window_end=end,
    ):
        slot = p.instant.slot.strftime("%H:%M")
        if not (skip and (rx.prescription_id, p.instant.day, slot) in skip):
            rows.append(_planned_row(rx, p, slot=slot, risk=risk, now=now))
    return rows


def _planned_row(
    rx: ActiveSchedule, p: PlannedDose, *, slot: str, risk: bool, now: dt.datetime
) -> dict[str, Any]:
    """One planned dose as planning writes it."""
    return {
        "id": dose_event_id(rx.prescription_id, p.instant.at),
        "prescription_id": rx.prescription_id,
        "patient_id": rx.patient_id,
        "version": rx.version,
        "scheduled_at": p.instant.at,
        "timezone": rx.timezone,
        "slot": slot,
        "drug": rx.drug,
        "dose_amount": p.amount,
        "dose_unit": TAPER_UNIT if p.by_plan else rx.dose_unit,
        "withdrawal_risk": risk,
        "prn": False,
        "status": _PLANNED,
        "snoozes": 0,
        "created_at": now,
        "updated_at": now,
    }


def _window_start(rx: ActiveSchedule, floor: dt.datetime) -> dt.datetime:
    """Nothing before the terms were written (a prescription entered at 10:00 has no
    08:00 dose that day; a revision does not re-plan the past), nor before a new
    time zone took effect, nor again what is planned already."""
    start = max(floor, rx.version_created_at)
    for mark in (rx.plan_from, rx.planned_until):
        if mark is not None:
            start = max(start, mark)
    return start


# Prescriptions per planning transaction: short transactions keep SQLite's single
# writer (and PostgreSQL's row locks) free for the API between them.
PLAN_CHUNK = 1000


def _plan_locked(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    schedules: list[ActiveSchedule],
    *,
    now: dt.datetime,
    revive: bool = False,
    skip: set[tuple[uuid.UUID, dt.date, str]] | None = None,
) -> int:
    """Plan the given (locked) prescriptions up to the horizon; returns doses written."""
    until = now + policy.horizon + PLAN_AHEAD
    calendars = taper_calendars(uow, schedules)
    rows: list[dict[str, Any]] = []
    for rx in schedules:
        start = _window_start(rx, now - policy.catch_up)
        rows.extend(
            _planned_rows(
                kb,
                rx,
                calendars.get(rx.prescription_id),
                start=start,
                end=until,
                now=now,
                skip=skip,
            )
        )
    uow.planning.insert_events(rows, revive=revive)
    uow.planning.set_planned_until([rx.prescription_id for rx in schedules], until)
    return len(rows)


# Doses are planned this far beyond the horizon, so a prescription is revisited
# about once an hour rather than on every run of the planning job.
PLAN_AHEAD = dt.timedelta(hours=1)


def plan(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    *,
    now: dt.datetime,
    patient_id: uuid.UUID | None = None,
) -> int:
    """Plan what is missing of the patient's horizon, inside the caller's transaction
    (a cheap read when nothing is)."""
    uow.flush()
    if not uow.planning.prescriptions_to_plan(until=now + policy.horizon, patient_id=patient_id):
        return 0
    uow.serialise_writes()
    schedules = [
        rx
        for rx in uow.planning.active_schedules(patient_id=patient_id, lock=True)
        if rx.planned_until is None or rx.planned_until < now + policy.horizon
    ]
    return _plan_locked(uow, kb, policy, schedules, now=now)


def replan(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    *,
    now: dt.datetime,
    prescription_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    new_zone: bool = False,
) -> None:
    """After a change of terms or status, or a new time zone, in the transaction
    that made it (which holds the prescription's lock): withdraw the future doses
    not yet reminded and plan them again from the current terms. A new time zone
    plans from now only, and not a slot already planned for that local day."""
    uow.flush()
    uow.serialise_writes()
    withdrawn = uow.planning.cancel_future(
        after=now, now=now, patient_id=patient_id, prescription_id=prescription_id
    )
    skip = None
    if new_zone:
        assert patient_id is not None
        uow.planning.set_plan_from(patient_id, now)
        skip = uow.planning.logged_slots(patient_id, since=now - dt.timedelta(days=2))
    schedules = uow.planning.active_schedules(
        ids=[prescription_id] if prescription_id else None, patient_id=patient_id, lock=True
    )
    _plan_locked(uow, kb, policy, schedules, now=now, revive=True, skip=skip)
    uow.outbox.reopen_withdrawn(withdrawn, now=now)


def materialise_doses(
    *, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase, policy: ReminderPolicy
) -> int:
    """The scheduler's planning job: every active prescription not yet planned to
    the horizon, a chunk per transaction; returns the doses written."""
    now = clock()
    with uow.read_only() as reading:
        due = reading.planning.prescriptions_to_plan(until=now + policy.horizon)
    planned = 0
    for start in range(0, len(due), PLAN_CHUNK):
        chunk = due[start : start + PLAN_CHUNK]
        with uow:
            uow.serialise_writes()
            schedules = [
                rx
                for rx in uow.planning.active_schedules(ids=chunk, lock=True)
                if rx.planned_until is None or rx.planned_until < now + policy.horizon
            ]
            planned += _plan_locked(uow, kb, policy, schedules, now=now)
            uow.commit()
    return planned
