"""Adherence day by day: each prescription's scheduled doses over the patient's last
local days, one outcome per day, for the clinician's chart; and the outcome of one
dose as the chart's week shows it.

A dose's outcome is the adherence use case's (service/usecases/adherence.py): the
shown status (an open dose past the missed mark is missed) classified by the domain
with the reminder policy's on-time window, so a dose counted early or late there is
early or late here.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from service.db.uow import UnitOfWork
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.schedule import DoseOutcome, classify
from service.usecases.access import load_readable_patient
from service.usecases.adherence import AdherenceRow, row_of
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.dose_views import DoseView, dose_view
from service.usecases.errors import ValidationFailed
from service.usecases.planning import plan
from service.usecases.reminders import ReminderPolicy

# The adherence use case reads at most a year at once; so does this one.
MAX_DAYS = 366


class DayKind(enum.StrEnum):
    """One day of one prescription, from the outcomes of its scheduled doses."""

    ON_TIME = "on_time"  # every dose due that day taken on time
    LATE = "late"  # all taken, some early or late (off time)
    MISSED = "missed"  # some missed or skipped
    PENDING = "pending"  # nothing missed yet, some doses still open
    NONE = "none"  # no dose due


def day_kind(outcomes: Iterable[DoseOutcome]) -> DayKind:
    """The day's outcome: a missed or skipped dose outweighs an early or late one
    (the day's LATE, off time), which outweighs one still open; a day with no dose
    due is NONE."""
    seen = set(outcomes)
    if not seen:
        return DayKind.NONE
    if seen & {DoseOutcome.MISSED, DoseOutcome.SKIPPED}:
        return DayKind.MISSED
    if seen & {DoseOutcome.EARLY, DoseOutcome.LATE}:
        return DayKind.LATE
    if DoseOutcome.PENDING in seen:
        return DayKind.PENDING
    return DayKind.ON_TIME


def dose_outcome(dose: DoseView, *, policy: ReminderPolicy) -> DoseOutcome | None:
    """The adherence outcome of a listed dose; None for a cancelled one, which
    adherence does not count."""
    if dose.status == DoseStatus.CANCELLED:
        return None
    return classify(
        scheduled_at=dose.scheduled_at,
        status=dose.status,
        taken_at=dose.taken_at,
        on_time_window=policy.on_time,
    )


@dataclass(frozen=True, kw_only=True)
class PrescriptionDays:
    prescription_id: uuid.UUID
    drug: str
    # One per day of the window, oldest first.
    days: tuple[DayKind, ...]
    # The window's counts, as the adherence use case gives them for the same instants.
    figures: AdherenceRow


@dataclass(frozen=True, kw_only=True)
class AdherenceDays:
    """The window (local days, and the same as instants for the adherence use case)."""

    first_day: dt.date
    last_day: dt.date
    start: dt.datetime
    end: dt.datetime
    timezone: str
    prescriptions: tuple[PrescriptionDays, ...]

    @property
    def dates(self) -> list[dt.date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=i) for i in range(count)]


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC)


def adherence_days(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    days: int,
) -> AdherenceDays:
    """The patient's last `days` local days up to today, per prescription with a
    scheduled dose among them (as-needed doses are not scheduled); the horizon is
    planned first, as for adherence."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            "The number of days is out of range.", errors={"days": [f"From 1 to {MAX_DAYS}."]}
        )
    now = clock()
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        zone = zoneinfo.ZoneInfo(ctx.patient.timezone)
        last = now.astimezone(zone).date()
        first = last - dt.timedelta(days=days - 1)
        start, end = _midnight(first, zone), _midnight(last + dt.timedelta(days=1), zone)
        plan(uow, kb, policy, now=now, patient_id=patient_id)
        rows = uow.doses.rows_between(patient_id=patient_id, start=start, end=end)
        doses = [dose_view(r, now=now, policy=policy) for r in rows if not r.prn]
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="dose.adherence",
            entity_type="DoseEvent",
            patient_id=patient_id,
        )
    return AdherenceDays(
        first_day=first,
        last_day=last,
        start=start,
        end=end,
        timezone=ctx.patient.timezone,
        prescriptions=_by_prescription(doses, zone=zone, first=first, days=days, policy=policy),
    )


def _by_prescription(
    doses: list[DoseView],
    *,
    zone: zoneinfo.ZoneInfo,
    first: dt.date,
    days: int,
    policy: ReminderPolicy,
) -> tuple[PrescriptionDays, ...]:
    """Each dose on its day in the patient's zone today (the zone a dose was planned
    in may have changed since)."""
    outcomes: dict[uuid.UUID, list[list[DoseOutcome]]] = {}
    drugs: dict[uuid.UUID, str] = {}
    for d in doses:
        outcome = dose_outcome(d, policy=policy)
        index = (d.scheduled_at.astimezone(zone).date() - first).days
        if outcome is None or not 0 <= index < days:
            continue
        outcomes.setdefault(d.prescription_id, [[] for _ in range(days)])[index].append(outcome)
        # Named after the drug as its latest dose names it, as adherence names it.
        drugs[d.prescription_id] = d.drug
    found = [
        PrescriptionDays(
            prescription_id=rx_id,
            drug=drugs[rx_id],
            days=tuple(day_kind(day) for day in per_day),
            figures=row_of(rx_id, drugs[rx_id], (o for day in per_day for o in day)),
        )
        for rx_id, per_day in outcomes.items()
    ]
    found.sort(key=lambda p: (p.drug.casefold(), str(p.prescription_id)))
    return tuple(found)
