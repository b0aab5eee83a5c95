"""Pauses that end by themselves: a pause with `resume_on` is resumed by the
scheduler at the start of that date in the patient's time zone, so that a
withdrawal-risk drug paused for a procedure is not left stopped (docs/clinical.md,
"The abrupt-stop guard")."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo

from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Action, Status
from service.usecases.context import SCHEDULER, Clock
from service.usecases.planning import replan
from service.usecases.prescriptions import append_version
from service.usecases.reminders import ReminderPolicy
from service.usecases.rescreening import rescreen

log = logging.getLogger("medtrack.pauses")


def _resume(
    uow: UnitOfWork, kb: KnowledgeBase, policy: ReminderPolicy, rx_id: uuid.UUID, now: dt.datetime
) -> bool:
    with uow:
        patient_id = uow.prescriptions.patient_of(rx_id)
        if patient_id is None or not uow.record.serialise(patient_id, wait=False):
            return False
        rx = uow.prescriptions.claim(rx_id)
        if rx is None or rx.status != Status.PAUSED.value:
            return False
        current = uow.prescriptions.version(rx.id, rx.current_version)
        zone = uow.patients.timezone(rx.patient_id) or "UTC"
        today = now.astimezone(zoneinfo.ZoneInfo(zone)).date()
        if current.resume_on is None or current.resume_on > today:
            return False
        append_version(
            uow,
            caller=SCHEDULER,
            now=now,
            rx=rx,
            current=current,
            terms=current.terms(),
            status=Status.ACTIVE,
            change=Action.RESUME.value,
            reason=f"The pause ended on {current.resume_on}, as planned.",
            on_behalf_of=current.created_by,
        )
        patient = uow.patients.get(rx.patient_id)
        if patient is not None:
            rescreen(
                uow, kb, caller=SCHEDULER, patient=patient, now=now, cause="prescription.resume"
            )
        replan(uow, kb, policy, now=now, prescription_id=rx.id)
        uow.commit()
        return True


def resume_due_pauses(
    *, uow: UnitOfWork, clock: Clock, kb: KnowledgeBase, policy: ReminderPolicy
) -> int:
    """Resume every paused prescription whose resume date has come where the patient is."""
    now = clock()
    # The date is already tomorrow somewhere (UTC+14): look that far ahead, then judge
    # each prescription in its patient's zone.
    with uow.read_only() as reading:
        due = reading.prescriptions.due_to_resume(now.date() + dt.timedelta(days=1))
    resumed = 0
    for rx_id in due:
        try:
            resumed += _resume(uow, kb, policy, rx_id, now)
        except Exception:
            log.exception("prescription %s could not resume", rx_id)
    return resumed
