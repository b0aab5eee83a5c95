"""What a revision and a status change share: the prescription found and locked in
the patient's serialised record, the abrupt-stop guard applied where the patient
is, and the record re-screened and re-planned before the one commit."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

from service.db.tables import Patient, Prescription, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.abrupt_stop import AbruptStop
from service.domain.interactions import KnowledgeBase
from service.usecases.abrupt_stop import audit_override, guard
from service.usecases.access import load_writable_patient
from service.usecases.context import Caller
from service.usecases.planning import replan
from service.usecases.prescriptions.versions import check_version, load_prescription
from service.usecases.reminders import ReminderPolicy
from service.usecases.rescreening import Answered, rescreen


@dataclass(frozen=True, kw_only=True)
class Changing:
    """A change to one prescription under way: who makes it and when, the patient,
    and the prescription (row-locked) with its current version."""

    caller: Caller
    now: dt.datetime
    patient: Patient
    rx: Prescription
    current: PrescriptionVersion

    @property
    def today(self) -> dt.date:
        """The date where the patient is, which the guard and resume dates go by."""
        return self.now.astimezone(zoneinfo.ZoneInfo(self.patient.timezone)).date()


def begin_change(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    if_version: frozenset[int] | None,
) -> Changing:
    """The prescription to change, in the caller's open unit of work: the record's
    lock first, then the row's, then (with `if_version`) the version check."""
    ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
    uow.record.serialise(patient_id)
    rx = load_prescription(uow, patient_id, rx_id, lock=True)
    check_version(rx, if_version)
    return Changing(
        caller=caller,
        now=now,
        patient=ctx.patient,
        rx=rx,
        current=uow.prescriptions.version(rx.id, rx.current_version),
    )


def apply_guard(
    uow: UnitOfWork, kb: KnowledgeBase, ch: Changing, stop: AbruptStop | None, reason: str | None
) -> str | None:
    """The abrupt-stop override to store on the version, or None; refuses a stop of a
    withdrawal-risk drug that comes without a reason."""
    return guard(uow, kb, current=ch.current, stop=stop, reason=reason, today=ch.today)


def audit_guard(
    uow: UnitOfWork, ch: Changing, stop: AbruptStop | None, override: str | None
) -> None:
    """Audit an override of the guard (after the version it made is stored)."""
    if stop is not None and override is not None:
        audit_override(
            uow,
            caller=ch.caller,
            now=ch.now,
            rx=ch.rx,
            current=ch.current,
            stop=stop,
            reason=override,
        )


def finish_change(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    policy: ReminderPolicy,
    ch: Changing,
    *,
    cause: str,
    answered: Mapping[str, Answered] | None = None,
) -> None:
    """Re-screen the record, plan again the doses not yet reminded, and commit."""
    rescreen(
        uow, kb, caller=ch.caller, patient=ch.patient, now=ch.now, cause=cause, answered=answered
    )
    replan(uow, kb, policy, now=ch.now, prescription_id=ch.rx.id)
    uow.commit()
