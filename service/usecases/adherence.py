"""Adherence over a period for clinicians: the patient and the period, overall and
per prescription figures, and each scheduled dose with its outcome (the CSV export
is adherence_csv.py).

A dose's outcome is the domain's (service/domain/schedule.py, `classify`): the shown
status (an open dose past the missed mark is missed) classified with the reminder
policy's on-time window, early and late apart.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal

from service.db.tables import DoseEvent
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import plain_amount
from service.domain.schedule import DoseOutcome, classify, summarize
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.doses import shown_status
from service.usecases.planning import plan
from service.usecases.reminders import ReminderPolicy
from service.usecases.windows import Bound, local_window


@dataclass(frozen=True, kw_only=True)
class Figures:
    """Counts of scheduled doses by outcome. `taken` is on time, early or late;
    `due` is taken, skipped or missed (doses still open are in neither)."""

    on_time: int
    early: int
    late: int
    skipped: int
    missed: int
    pending: int
    taken: int
    due: int
    # taken / due and on_time / due, in percent to one decimal; None when nothing is due.
    percentage: Decimal | None
    on_time_percentage: Decimal | None


@dataclass(frozen=True, kw_only=True)
class AdherenceRow(Figures):
    prescription_id: uuid.UUID
    drug: str


@dataclass(frozen=True, kw_only=True)
class DoseLine:
    """One scheduled dose as the per-dose export lists it."""

    dose_id: uuid.UUID
    prescription_id: uuid.UUID
    drug: str
    dose_amount: Decimal
    dose_unit: str
    scheduled_at: dt.datetime
    # The same instant in the zone the dose was planned in, as the dose list gives it.
    local_time: dt.datetime
    status: str
    outcome: DoseOutcome
    taken_at: dt.datetime | None
    # taken_at - scheduled_at in whole minutes (negative: early); None when not taken.
    minutes_from_scheduled: int | None


@dataclass(frozen=True, kw_only=True)
class AdherenceReport:
    patient_id: uuid.UUID
    patient_name: str
    timezone: str
    start: dt.datetime
    end: dt.datetime
    on_time_window: dt.timedelta
    overall: Figures
    prescriptions: list[AdherenceRow]
    doses: list[DoseLine]

    @property
    def period_start(self) -> dt.datetime:
        """The period's start with the patient's offset."""
        return self.start.astimezone(zoneinfo.ZoneInfo(self.timezone))

    @property
    def period_end(self) -> dt.datetime:
        return self.end.astimezone(zoneinfo.ZoneInfo(self.timezone))

    @property
    def on_time_window_minutes(self) -> int:
        return int(self.on_time_window.total_seconds() // 60)


# One request reads at most a year of doses (366 days, a leap year).
MAX_WINDOW = dt.timedelta(days=366)


def _outcome(e: DoseEvent, *, now: dt.datetime, policy: ReminderPolicy) -> DoseOutcome:
    return classify(
        scheduled_at=e.scheduled_at,
        status=shown_status(e, now=now, policy=policy),
        taken_at=e.taken_at,
        on_time_window=policy.on_time,
    )


def adherence(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    start: Bound,
    end: Bound,
) -> AdherenceReport:
    """The patient's scheduled doses in [start, end) counted by outcome, overall and
    per prescription, and listed one by one (the patient's horizon is planned first,
    as for the dose list)."""
    now = clock()
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        # Dates are whole days where the patient lives (service.usecases.windows).
        start, end = local_window(start, end, timezone=ctx.patient.timezone, longest=MAX_WINDOW)
        plan(uow, kb, policy, now=now, patient_id=patient_id)
        events = [
            e
            for e in uow.doses.events_between(patient_id=patient_id, start=start, end=end)
            if not e.prn
        ]
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="dose.adherence",
            entity_type="DoseEvent",
            patient_id=patient_id,
        )
        name = ctx.user.name
        timezone = ctx.patient.timezone
    lines = [_line(e, now=now, policy=policy) for e in events]
    # Doses due together are listed by drug, so that the export reads the same each time.
    lines.sort(key=lambda d: (d.scheduled_at, d.drug.casefold(), str(d.prescription_id)))
    by_rx: dict[uuid.UUID, list[DoseLine]] = {}
    for line in lines:
        by_rx.setdefault(line.prescription_id, []).append(line)
    rows = [
        # Named after the drug as its latest dose names it.
        row_of(rx_id, rx_lines[-1].drug, (d.outcome for d in rx_lines))
        for rx_id, rx_lines in by_rx.items()
    ]
    rows.sort(key=lambda r: (r.drug.casefold(), str(r.prescription_id)))
    return AdherenceReport(
        patient_id=patient_id,
        patient_name=name,
        timezone=timezone,
        start=start,
        end=end,
        on_time_window=policy.on_time,
        overall=figures_of(d.outcome for d in lines),
        prescriptions=rows,
        doses=lines,
    )


_TAKEN = (DoseOutcome.ON_TIME, DoseOutcome.EARLY, DoseOutcome.LATE)
_MINUTE = dt.timedelta(minutes=1)


def _minutes_from(scheduled_at: dt.datetime, taken_at: dt.datetime) -> int:
    """Whole minutes from the scheduled time to the time taken, towards zero."""
    off = taken_at - scheduled_at
    return off // _MINUTE if off >= dt.timedelta(0) else -(-off // _MINUTE)


def _line(e: DoseEvent, *, now: dt.datetime, policy: ReminderPolicy) -> DoseLine:
    outcome = _outcome(e, now=now, policy=policy)
    taken_at = e.taken_at.astimezone(dt.UTC) if e.taken_at and outcome in _TAKEN else None
    return DoseLine(
        dose_id=e.id,
        prescription_id=e.prescription_id,
        drug=e.drug,
        dose_amount=plain_amount(Decimal(e.dose_amount)),
        dose_unit=e.dose_unit,
        scheduled_at=e.scheduled_at.astimezone(dt.UTC),
        local_time=e.scheduled_at.astimezone(zoneinfo.ZoneInfo(e.timezone)),
        status=shown_status(e, now=now, policy=policy),
        outcome=outcome,
        taken_at=taken_at,
        minutes_from_scheduled=None
        if taken_at is None
        else _minutes_from(e.scheduled_at, taken_at),
    )


def figures_of(outcomes: Iterable[DoseOutcome]) -> Figures:
    """Counts and percentages of a set of dose outcomes."""
    s = summarize(outcomes)
    return Figures(
        on_time=s.on_time,
        early=s.early,
        late=s.late,
        skipped=s.skipped,
        missed=s.missed,
        pending=s.pending,
        taken=s.taken,
        due=s.due,
        percentage=s.percentage,
        on_time_percentage=s.on_time_percentage,
    )


def row_of(rx_id: uuid.UUID, drug: str, outcomes: Iterable[DoseOutcome]) -> AdherenceRow:
    """One prescription's counts from its doses' outcomes: the one counting function
    of the API, the CSV and the console's chart."""
    return AdherenceRow(prescription_id=rx_id, drug=drug, **asdict(figures_of(outcomes)))
