"""What a FHIR MedicationRequest's `dispenseRequest` says of a prescription's supply
(docs/clinical.md, "Supply and refills"; docs/interop.md, "Dispense request").

Under a taper plan under way (approved, active or paused), the plan's days and the
totals of its dispensing table, as `/v1/taper-plans/{id}/dispensing` gives them in
its default periods. Otherwise, the latest dispense recorded and how many days it
lasts at the prescription's daily use. Read for a page of prescriptions at once:
one query for their plans, one for each one's entries, and the heavier reading only
for those that have a plan or a dispense.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.db.tables import Patient, SupplyEntry
from service.db.tapers import PlanTerms
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.supply.breakdown import Terms, daily_use
from service.domain.supply.dispensing import DEFAULT_PERIOD_DAYS, dispensing
from service.domain.supply.stock import EntryKind
from service.domain.taper.status import PlanStatus
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.dispensing import bottle_sizes, plan_formulations
from service.usecases.prescriptions.versions import load_prescription
from service.usecases.reminders import ReminderPolicy
from service.usecases.supply_forecast import outlook_of
from service.usecases.supply_subject import Subject, subject_of


@dataclass(frozen=True, kw_only=True)
class Amount:
    """A quantity of one formulation: tablets, or mL of a liquid."""

    formulation: str
    unit: str
    quantity: Decimal


@dataclass(frozen=True, kw_only=True)
class DispenseFacts:
    """What to dispense (one amount per formulation), for how many days, and, under a
    taper, the plan's first and last day."""

    amounts: tuple[Amount, ...]
    days: int | None
    validity: tuple[dt.date, dt.date | None] | None = None


def plan_facts(kb: KnowledgeBase, drug: str, terms: PlanTerms) -> DispenseFacts | None:
    """A plan's days and its dispensing table's totals over the plan (the periods of
    `/v1`'s dispensing by default, so the two agree); None for a plan without steps."""
    steps = terms.plan.steps
    if not steps:
        return None
    start, end = steps[0].start_date, steps[-1].end_date
    entry = kb.catalog.drugs.get(drug)
    try:
        table = dispensing(
            terms.plan,
            plan_formulations(kb, drug, terms.plan),
            period_days=DEFAULT_PERIOD_DAYS,
            bottles=bottle_sizes(entry.formulations) if entry is not None else {},
        )
    except ValueError:
        # A formulation the plan names that neither the catalog nor its label
        # describes: the dates stand, the quantities cannot be said.
        amounts: tuple[Amount, ...] = ()
    else:
        amounts = tuple(
            Amount(formulation=t.formulation, unit=t.unit, quantity=t.dispense)
            for t in table.totals
        )
    if terms.status == PlanStatus.PAUSED:
        # Held at a step until it resumes, when its later dates move: no end yet.
        return DispenseFacts(amounts=amounts, days=None, validity=(start, None))
    return DispenseFacts(amounts=amounts, days=(end - start).days + 1, validity=(start, end))


def _latest_dispense(rows: Sequence[SupplyEntry]) -> SupplyEntry | None:
    """The last dispense in the order supply counts them (when it took effect)."""
    dispensed = [r for r in rows if r.kind == EntryKind.DISPENSED.value]
    return dispensed[-1] if dispensed else None


def _scheduled_use(subject: Subject, label: str, tracked: Collection[str]) -> tuple[Decimal, int]:
    """What the schedule takes of `label` over one cycle (every N days, and a week when
    it names weekdays), its doses made as the forecast makes them, and the cycle's days."""
    terms = subject.terms
    choices = [f for f in subject.choices if f.label in tracked] or list(subject.choices)
    use_on = daily_use(
        Terms(dose=terms.dose, schedule=terms.schedule, start_date=terms.start_date, end_date=None),
        choices,
        None,
    )
    cycle = terms.schedule.every_n_days * (7 if terms.schedule.days_of_week else 1)
    days = (terms.start_date + dt.timedelta(days=i) for i in range(cycle))
    return sum((use_on(day).get(label, Decimal(0)) for day in days), Decimal(0)), cycle


def _use(
    uow: UnitOfWork,
    subject: Subject,
    label: str,
    tracked: Collection[str],
    now: dt.datetime,
    policy: ReminderPolicy,
) -> tuple[Decimal, int]:
    """The prescription's use of `label` over a number of days: its schedule's over a
    cycle, or for an as-needed drug the forecast's recent rate over one day."""
    if not subject.terms.schedule.as_needed:
        return _scheduled_use(subject, label, tracked)
    seen = outlook_of(uow, subject, now=now, missed_after=policy.missed_after)
    return next((o.daily_use for o, _, _ in seen.found if o.formulation == label), Decimal(0)), 1


def supply_facts(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    patient: Patient,
    rx_id: uuid.UUID,
    *,
    now: dt.datetime,
    policy: ReminderPolicy,
) -> DispenseFacts | None:
    """The latest dispense of a prescription without a plan under way, and the whole
    days it lasts (none said when the daily use is nothing or cannot be told, or the
    quantity lasts less than a day)."""
    rows = uow.supply.entries(rx_id)
    latest = _latest_dispense(rows)
    if latest is None or latest.patient_id != patient.id:
        return None
    subject = subject_of(uow, kb, patient, load_prescription(uow, patient.id, rx_id))
    used, over = _use(uow, subject, latest.formulation, {r.formulation for r in rows}, now, policy)
    # Exact: Decimal's integer division is the whole part of the true quotient.
    days = int(latest.quantity * over // used) if used > 0 else 0
    amount = Amount(formulation=latest.formulation, unit=latest.unit, quantity=latest.quantity)
    return DispenseFacts(amounts=(amount,), days=days if days > 0 else None)


def _facts_of(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    patient: Patient,
    rx_ids: Sequence[uuid.UUID],
    now: dt.datetime,
    policy: ReminderPolicy,
) -> dict[uuid.UUID, DispenseFacts]:
    plans = uow.tapers.plans_under_way(rx_ids)
    found: dict[uuid.UUID, DispenseFacts] = {}
    for rx_id in dict.fromkeys(rx_ids):
        facts = None
        if rx_id in plans:
            plan = uow.tapers.open_for(rx_id)
            if plan is not None and plan.patient_id == patient.id:
                facts = plan_facts(kb, plan.drug, plans[rx_id])
        else:
            facts = supply_facts(uow, kb, patient, rx_id, now=now, policy=policy)
        if facts is not None:
            found[rx_id] = facts
    return found


def dispense_facts(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    rx_ids: Sequence[uuid.UUID],
) -> dict[uuid.UUID, DispenseFacts]:
    """The dispense facts of these prescriptions of the patient, by prescription (those
    with none left out), for a caller who may read the patient (404 otherwise); the
    read of supply is audited when it tells anything."""
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        found = _facts_of(uow, kb, ctx.patient, rx_ids, clock(), policy)
        if found:
            record_read(
                uow,
                caller=caller,
                clock=clock,
                subtype="supply.read",
                entity_type="Prescription",
                entity_id=next(iter(found)) if len(found) == 1 else None,
                patient_id=patient_id,
            )
        return found
