"""Recording what a patient has of a prescribed drug: a dispense adds to it, a count
says what is left (docs/clinical.md, "Supply and refills"). The patient and the care
team's clinicians record; every entry is kept, audited, and never changed."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from service.db.tables import Patient, SupplyEntry
from service.db.uow import UnitOfWork
from service.domain.accounts import can_record_supply
from service.domain.audit import AuditAction
from service.domain.errors import Problems
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Status
from service.domain.supply.stock import (
    EntryKind,
    check_dispensed_on,
    check_quantity,
    choose,
    opens_supply,
    unit_of,
)
from service.usecases.access import load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden
from service.usecases.prescriptions.versions import load_prescription
from service.usecases.reminders import ReminderPolicy
from service.usecases.supply_forecast import outlook_of, threshold
from service.usecases.supply_subject import Subject, subject_of

# A prescription's entries over years of refills: a bound on the unpaged list.
MAX_LISTED = 500


@dataclass(frozen=True, kw_only=True)
class SupplyEntryView:
    id: uuid.UUID
    prescription_id: uuid.UUID
    kind: str
    formulation: str
    unit: str
    quantity: Decimal
    dispensed_on: dt.date | None
    effective_at: dt.datetime
    recorded_by: uuid.UUID
    recorded_at: dt.datetime


def entry_view(e: SupplyEntry) -> SupplyEntryView:
    return SupplyEntryView(
        id=e.id,
        prescription_id=e.prescription_id,
        kind=e.kind,
        formulation=e.formulation,
        unit=e.unit,
        quantity=e.quantity,
        dispensed_on=e.dispensed_on,
        effective_at=e.effective_at,
        recorded_by=e.recorded_by,
        recorded_at=e.recorded_at,
    )


def _may_record(caller: Caller, patient: Patient, care_team: list[uuid.UUID]) -> None:
    if not can_record_supply(caller.require(), patient_id=patient.id, care_team=care_team):
        raise Forbidden(
            "Only the patient or a clinician on the care team records supply.",
            patient_id=patient.id,
        )


def record_supply(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    kind: EntryKind,
    formulation: str,
    quantity: Decimal,
    dispensed_on: dt.date | None = None,
) -> SupplyEntryView:
    """Record a dispense (`dispensed_on`, default today) or a count of what is left;
    a count that finds a refill's worth more than the estimate opens a new supply
    (service.domain.supply.stock, `opens_supply`)."""
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        _may_record(caller, ctx.patient, ctx.care_team)
        rx = load_prescription(uow, patient_id, rx_id, lock=True)
        if rx.status == Status.DISCONTINUED:
            raise Conflict("The prescription is discontinued: its supply is no longer counted.")
        subject = subject_of(uow, kb, ctx.patient, rx)
        now = clock()
        today = now.astimezone(subject.zone).date()
        problems = Problems()
        chosen = choose(formulation, subject.choices, subject.drug, problems)
        if chosen is not None:
            check_quantity(quantity, chosen, problems, allow_zero=kind is EntryKind.COUNTED)
        on = dispensed_on or today if kind is EntryKind.DISPENSED else None
        if on is not None:
            check_dispensed_on(on, today=today, problems=problems)
        problems.raise_if_any()
        assert chosen is not None
        effective = now if on is None else _dispensed_from(uow, rx_id, chosen.label, on, subject)
        if quantity == 0:
            quantity = Decimal(0)
        opens = kind is EntryKind.DISPENSED or _opens(
            uow, subject, chosen.label, quantity, now, policy
        )
        entry = uow.supply.add(
            SupplyEntry(
                patient_id=patient_id,
                prescription_id=rx_id,
                kind=kind.value,
                formulation=chosen.label,
                unit=unit_of(chosen),
                quantity=quantity,
                dispensed_on=on,
                effective_at=min(effective, now),
                recorded_by=caller.require().user_id,
                recorded_at=now,
                opens_supply=opens,
            )
        )
        view = entry_view(entry)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype=f"supply.{kind.value}",
            entity_type="Prescription",
            entity_id=rx_id,
            patient_id=patient_id,
            after={
                "entry_id": str(entry.id),
                "kind": kind.value,
                "formulation": chosen.label,
                "quantity": str(quantity),
                "unit": entry.unit,
                "dispensed_on": on.isoformat() if on else None,
                "opens_supply": opens,
            },
        )
        uow.commit()
        return view


def _opens(
    uow: UnitOfWork,
    subject: Subject,
    label: str,
    counted: Decimal,
    now: dt.datetime,
    policy: ReminderPolicy,
) -> bool:
    """Whether a count opens a new supply, against the estimate just before it."""
    seen = outlook_of(uow, subject, now=now, missed_after=policy.missed_after, horizon_days=0)
    mine = [(o, tracked) for o, _, tracked in seen.found if o.formulation == label]
    estimate = mine[0][0].on_hand if mine and mine[0][1] else None
    use = mine[0][0].daily_use if mine else Decimal(0)
    return opens_supply(counted, estimate, daily_use=use, threshold_days=threshold(subject, policy))


def _dispensed_from(
    uow: UnitOfWork, rx_id: uuid.UUID, label: str, on: dt.date, subject: Subject
) -> dt.datetime:
    """When a dispense counts from: the start of its local date, but after a count of
    the same formulation made that date (the count was of what was left before it)."""
    midnight = dt.datetime.combine(on, dt.time(), tzinfo=subject.zone).astimezone(dt.UTC)
    counted = [
        e.effective_at
        for e in uow.supply.entries(rx_id)
        if e.formulation == label
        and e.kind == EntryKind.COUNTED
        and e.effective_at >= midnight
        and e.effective_at.astimezone(subject.zone).date() == on
    ]
    return max([midnight, *counted])


def list_supplies(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, patient_id: uuid.UUID, rx_id: uuid.UUID
) -> list[SupplyEntryView]:
    """The prescription's dispenses and counts, oldest first."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        load_prescription(uow, patient_id, rx_id)
        rows = [entry_view(e) for e in uow.supply.entries(rx_id)[-MAX_LISTED:]]
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="supply.read",
            entity_type="Prescription",
            entity_id=rx_id,
            patient_id=patient_id,
        )
        return rows
