"""How long a prescription's supply lasts along its plan, and the refill reminders
that follow (docs/clinical.md, "Supply and refills").

On hand is worked out when asked, from the entries and the doses taken since: a dose
logged through any door (the app, the console, FHIR, a correction) draws down supply
without that door knowing of it.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.db.supply import DoseTaken
from service.db.tables import SupplyEntry
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Dose, Status
from service.domain.supply.breakdown import (
    PlanDays,
    Terms,
    daily_use,
    dose_use,
    plan_days,
    planned_dose_use,
    rate,
)
from service.domain.supply.forecast import Outlook, forecast, refill_due
from service.domain.supply.stock import Draw, Entry, EntryKind, ledger, unit_of
from service.domain.supply.use import Use, added, plan_labels
from service.domain.taper.formulations import TaperFormulation
from service.domain.taper.status import PlanStatus
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.prescriptions.versions import load_prescription
from service.usecases.reminders import ReminderPolicy
from service.usecases.supply_subject import Subject, subject_of

# As-needed drugs forecast from the use of the last four weeks.
RATE_DAYS = 28
# How far a forecast without an end looks; one with an end looks to it, at most ten
# years (the longest plan the planner makes).
OPEN_HORIZON_DAYS = 366
MAX_HORIZON_DAYS = 3653


@dataclass(frozen=True, kw_only=True)
class FormulationSupply:
    outlook: Outlook
    unit: str
    tracked: bool
    refill_due: bool


@dataclass(frozen=True, kw_only=True)
class SupplyForecast:
    prescription_id: uuid.UUID
    drug: str
    today: dt.date
    basis: str
    taper_plan_status: str | None
    refill_threshold_days: int
    use_unknown: bool
    formulations: tuple[FormulationSupply, ...]


def threshold(subject: Subject, policy: ReminderPolicy) -> int:
    return policy.refill_days_withdrawal if subject.withdrawal_risk else policy.refill_days


def _entries(rows: Sequence[SupplyEntry]) -> list[Entry]:
    return [
        Entry(
            kind=EntryKind(r.kind),
            formulation=r.formulation,
            quantity=r.quantity,
            at=r.effective_at,
            ref=str(r.id),
            opens=r.opens_supply,
        )
        for r in rows
    ]


class _Uses:
    """What each logged or open dose of a prescription takes of each formulation: the
    plan's components on the dates it governs, else the dose made from the
    formulations on hand or, when they cannot make it, from any it may be supplied in."""

    def __init__(
        self,
        days: PlanDays | None,
        tracked: Sequence[TaperFormulation],
        choices: Sequence[TaperFormulation],
    ) -> None:
        self._days = days
        self._tracked = tuple(tracked)
        self._choices = tuple(choices)

    def of(self, d: DoseTaken) -> Use:
        if self._days is not None and d.dose_unit == "mg" and not d.prn and d.slot:
            local = d.scheduled_at.astimezone(_zone(d.timezone))
            found = planned_dose_use(
                self._days, local.date(), dt.time.fromisoformat(d.slot), d.dose_amount
            )
            if found is not None:
                return found
        return self.dose(Dose(amount=d.dose_amount, unit=d.dose_unit)) or {}

    def dose(self, dose: Dose) -> Use | None:
        return dose_use(dose, self._tracked) or dose_use(dose, self._choices)

    def making(self, dose: Dose) -> tuple[TaperFormulation, ...]:
        """The formulations a dose of the terms is made from."""
        return self._tracked if dose_use(dose, self._tracked) else self._choices


def _zone(name: str) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(name)


@dataclass(frozen=True, kw_only=True)
class Outlooks:
    """A prescription's forecast: its basis (taper, schedule or as-needed), each
    formulation's outlook with its unit and whether supply of it is recorded, the
    entry each formulation's current supply began with, and whether the daily use
    could not be told (the dose cannot be made from the formulations)."""

    basis: str
    found: list[tuple[Outlook, str, bool]]
    began: dict[str, str]
    use_unknown: bool


def outlook_of(
    uow: UnitOfWork,
    subject: Subject,
    *,
    now: dt.datetime,
    missed_after: dt.timedelta,
    horizon_days: int | None = None,
) -> Outlooks:
    """The forecast of a prescription's supply. A dose still open `missed_after` its
    time is missed, whether or not the follow-up job has marked it yet, and takes
    nothing more today. A discontinued prescription takes nothing; a paused one
    nothing until it resumes; a paused plan holds its step with no end in sight."""
    rows = uow.supply.entries(subject.rx.id)
    entries = _entries(rows)
    recorded = list(dict.fromkeys(e.formulation for e in entries))
    by_label = {f.label: f for f in subject.choices}
    tracked = [by_label[k] for k in recorded if k in by_label]
    days = None
    if subject.plan is not None:
        days = plan_days(
            subject.plan.plan, status=subject.plan.status, paused_on=subject.paused_on()
        )
    uses = _Uses(days, tracked, subject.choices)
    draws: list[Draw] = []
    as_needed = subject.terms.schedule.as_needed and days is None
    if entries:
        since = _draws_from(entries)
        if as_needed:
            since = min(since, now - dt.timedelta(days=RATE_DAYS))
        for d in uow.supply.taken_since(subject.rx.id, since):
            at = d.taken_at or d.scheduled_at
            draws.extend(Draw(formulation=k, quantity=q, at=at) for k, q in uses.of(d).items())
    stock = ledger(entries, draws)
    today = now.astimezone(subject.zone).date()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=subject.zone)
    left_today = added(
        uses.of(d)
        for d in uow.supply.open_between(
            subject.rx.id, now - missed_after, midnight.astimezone(dt.UTC)
        )
        if d.scheduled_at.astimezone(subject.zone).date() == today
    )
    recent = None
    if as_needed:
        start, observed = _rate_window(subject, now)
        used = added({x.formulation: x.quantity} for x in draws if x.at >= start)
        recent = rate(used, observed)
    terms = subject.terms
    use_on = daily_use(
        Terms(
            dose=terms.dose,
            schedule=terms.schedule,
            start_date=terms.start_date,
            end_date=terms.end_date,
        ),
        uses.making(terms.dose),
        days,
        as_needed_rate=recent,
    )
    stopped = subject.rx.status == Status.DISCONTINUED
    if stopped or subject.paused:
        use_on = _resumed(use_on, None if stopped else subject.resume_on)
        left_today = {}
    held_plan = subject.plan is not None and subject.plan.status == PlanStatus.PAUSED
    ends_on = None if held_plan else (days.ends_on if days is not None else terms.end_date)
    if horizon_days is None:
        horizon_days = MAX_HORIZON_DAYS if ends_on is not None else OPEN_HORIZON_DAYS
    labels = list(recorded)
    if days is not None and subject.plan is not None:
        labels += [
            k for k in plan_labels(subject.plan.plan) if k not in labels and _ahead(days, k, today)
        ]
    found = forecast(
        stock.held,
        today=today,
        left_today=left_today,
        use_on=use_on,
        ends_on=ends_on,
        horizon_days=horizon_days,
        labels=labels,
    )
    basis = "taper" if days is not None else ("as-needed" if as_needed else "schedule")
    units = {k: unit_of(by_label[k]) if k in by_label else "tablet" for k in labels}
    by_terms = days is None or days.step_on(today) is None
    unknown = not (as_needed or stopped) and by_terms and uses.dose(terms.dose) is None
    return Outlooks(
        basis=basis,
        found=[(o, units[o.formulation], o.formulation in recorded) for o in found],
        began=stock.began,
        use_unknown=unknown and bool(recorded),
    )


def _rate_window(subject: Subject, now: dt.datetime) -> tuple[dt.datetime, int]:
    """Where an as-needed rate is taken from, and over how many days: the last
    RATE_DAYS, or the days since the prescription started when fewer (a drug started
    on Monday is not averaged over four weeks); a day begun counts, at least one."""
    started = dt.datetime.combine(subject.terms.start_date, dt.time(), tzinfo=subject.zone)
    start = max(now - dt.timedelta(days=RATE_DAYS), started)
    days = math.ceil((now - start) / dt.timedelta(days=1))
    return start, min(max(days, 1), RATE_DAYS)


def _resumed(use_on: Callable[[dt.date], Use], on: dt.date | None) -> Callable[[dt.date], Use]:
    """A paused prescription's use: nothing before it resumes."""

    def paused(day: dt.date) -> Use:
        return use_on(day) if on is not None and day >= on else {}

    return paused


def _draws_from(entries: Sequence[Entry]) -> dt.datetime:
    """From when taken doses matter: a count sets on hand, so only the doses after each
    formulation's count before its last (or, counted once or never, its first entry)
    draw it down; the one before the last tells whether the last found more than
    the estimate."""
    start: dict[str, dt.datetime] = {}
    counts: dict[str, list[dt.datetime]] = {}
    for e in sorted(entries, key=lambda e: e.at):
        start.setdefault(e.formulation, e.at)
        if e.kind is EntryKind.COUNTED:
            counts.setdefault(e.formulation, []).append(e.at)
    for label, seen in counts.items():
        if len(seen) >= 2:
            start[label] = seen[-2]
    return min(start.values())


def _ahead(days: PlanDays, label: str, today: dt.date) -> bool:
    """Whether a step from today on uses the formulation."""
    return any(
        step.end_date >= today
        and any(c.formulation == label for a in step.administrations for c in a.components)
        for step in days.steps
    )


def supply_forecast(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
) -> SupplyForecast:
    """Each formulation's on hand, daily use, run-out date and shortfall."""
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rx = load_prescription(uow, patient_id, rx_id)
        subject = subject_of(uow, kb, ctx.patient, rx)
        now = clock()
        seen = outlook_of(uow, subject, now=now, missed_after=policy.missed_after)
        days = threshold(subject, policy)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="supply.forecast",
            entity_type="Prescription",
            entity_id=rx_id,
            patient_id=patient_id,
        )
        # Once any supply is recorded, a formulation the plan needs soon that nobody has
        # recorded is due too: the liquid of the last steps has to be dispensed in time.
        counting = any(tracked for _, _, tracked in seen.found)
        return SupplyForecast(
            prescription_id=rx_id,
            drug=subject.drug,
            today=now.astimezone(subject.zone).date(),
            basis=seen.basis,
            taper_plan_status=subject.plan.status.value if subject.plan else None,
            refill_threshold_days=days,
            use_unknown=seen.use_unknown,
            formulations=tuple(
                FormulationSupply(
                    outlook=o,
                    unit=unit,
                    tracked=tracked,
                    refill_due=counting and refill_due(o, threshold_days=days),
                )
                for o, unit, tracked in seen.found
            ),
        )
