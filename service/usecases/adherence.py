"""Adherence over a period, per prescription, and its CSV export for clinicians."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.db.tables import DoseEvent
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.schedule import DoseOutcome, classify, summarize
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.doses import shown_status
from service.usecases.errors import ValidationFailed
from service.usecases.planning import plan
from service.usecases.reminders import ReminderPolicy


@dataclass(frozen=True, kw_only=True)
class AdherenceRow:
    prescription_id: uuid.UUID
    drug: str
    on_time: int
    late: int
    skipped: int
    missed: int
    pending: int
    percentage: Decimal | None


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
    start: dt.datetime,
    end: dt.datetime,
) -> list[AdherenceRow]:
    """Per prescription: scheduled doses taken on time, late, skipped, missed (the
    patient's horizon is planned first, as for the dose list)."""
    _check_window(start, end)
    now = clock()
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
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
    by_rx: dict[uuid.UUID, list[DoseEvent]] = {}
    for e in events:
        by_rx.setdefault(e.prescription_id, []).append(e)
    rows = [_row(rx_id, rx_events, now=now, policy=policy) for rx_id, rx_events in by_rx.items()]
    rows.sort(key=lambda r: (r.drug.casefold(), str(r.prescription_id)))
    return rows


def _check_window(start: dt.datetime, end: dt.datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise ValidationFailed(
            "Give a window with offsets, from before to.", errors={"to": ["Must be after from."]}
        )
    if end - start > MAX_WINDOW:
        raise ValidationFailed(
            "The window is too long.", errors={"to": [f"At most {MAX_WINDOW.days} days."]}
        )


def _row(
    rx_id: uuid.UUID, events: list[DoseEvent], *, now: dt.datetime, policy: ReminderPolicy
) -> AdherenceRow:
    """One prescription's counts; named after the drug as its latest dose names it."""
    return row_of(rx_id, events[-1].drug, (_outcome(e, now=now, policy=policy) for e in events))


def row_of(rx_id: uuid.UUID, drug: str, outcomes: Iterable[DoseOutcome]) -> AdherenceRow:
    """One prescription's counts from its doses' outcomes."""
    s = summarize(outcomes)
    return AdherenceRow(
        prescription_id=rx_id,
        drug=drug,
        on_time=s.on_time,
        late=s.late,
        skipped=s.skipped,
        missed=s.missed,
        pending=s.pending,
        percentage=s.percentage,
    )


# The outcome columns are named as the outcomes are, in their order.
CSV_COLUMNS = ("prescription_id", "drug", *(o.value for o in DoseOutcome), "percentage")


def adherence_csv(rows: Sequence[AdherenceRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.prescription_id,
                _safe_cell(r.drug),
                r.on_time,
                r.late,
                r.skipped,
                r.missed,
                r.pending,
                "" if r.percentage is None else r.percentage,
            ]
        )
    return out.getvalue()


def _safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
