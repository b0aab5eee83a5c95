"""Pausing, resuming and discontinuing a prescription: each is a new version that
carries the reason."""

from __future__ import annotations

import datetime as dt
import uuid

from service.db.uow import UnitOfWork
from service.domain.abrupt_stop import status_change_stop
from service.domain.errors import TransitionError
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import (
    Action,
    Status,
    check_resume_later,
    check_resume_with_pause,
    transition,
)
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, ValidationFailed, domain_rules
from service.usecases.prescriptions.changing import (
    Changing,
    apply_guard,
    audit_guard,
    begin_change,
    finish_change,
)
from service.usecases.prescriptions.versions import append_version
from service.usecases.prescriptions.views import PrescriptionRecord, shown_to
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.taper_plans import cancel_with_prescription


def change_status(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    action: Action,
    reason: str,
    policy: ReminderPolicy = DEFAULT_POLICY,
    abrupt_stop_reason: str | None = None,
    if_version: frozenset[int] | None = None,
    resume_on: dt.date | None = None,
) -> PrescriptionRecord:
    """Pause, resume or discontinue; each is a new version carrying the reason.
    Future doses not yet reminded are withdrawn, and planned again on resume (by the
    scheduler on `resume_on`, for a pause that names it). Discontinuing a
    withdrawal-risk drug, or pausing it with no `resume_on`, needs
    `abrupt_stop_reason` (the abrupt-stop guard). With `if_version`, only if the
    prescription is still at one of those versions."""
    now = clock()
    if not reason.strip():
        raise ValidationFailed("A reason is required.", errors={"reason": ["Must not be blank."]})
    with uow:
        ch = begin_change(
            uow, caller=caller, now=now, patient_id=patient_id, rx_id=rx_id, if_version=if_version
        )
        status = _next_status(ch, action, resume_on)
        stop = status_change_stop(ch.current.terms(), action, resume_on=resume_on)
        override = apply_guard(uow, kb, ch, stop, abrupt_stop_reason)
        rec = _store(
            uow,
            ch,
            status,
            action=action,
            reason=reason.strip(),
            override=override,
            resume_on=resume_on,
        )
        audit_guard(uow, ch, stop, override)
        finish_change(uow, kb, policy, ch, cause=f"prescription.{action}")
        return shown_to(caller.require(), rec, locale=ch.patient.locale)


def _next_status(ch: Changing, action: Action, resume_on: dt.date | None) -> Status:
    """The status `action` leads to, if the prescription's status allows it and a
    resume date comes only with a pause, on a later day where the patient is."""
    try:
        status = transition(Status(ch.rx.status), action)
    except TransitionError as exc:
        raise Conflict(str(exc)) from exc
    with domain_rules("Only a pause takes a resume date."):
        check_resume_with_pause(action, resume_on)
    with domain_rules("A pause resumes on a later day."):
        check_resume_later(resume_on, today=ch.today)
    return status


def _store(
    uow: UnitOfWork,
    ch: Changing,
    status: Status,
    *,
    action: Action,
    reason: str,
    override: str | None,
    resume_on: dt.date | None,
) -> PrescriptionRecord:
    """The new status as the next version, with the same terms; discontinuing also
    ends the prescription's taper plan in progress."""
    rec = append_version(
        uow,
        caller=ch.caller,
        now=ch.now,
        rx=ch.rx,
        current=ch.current,
        terms=ch.current.terms(),
        status=status,
        change=action.value,
        reason=reason,
        abrupt_stop_reason=override,
        resume_on=resume_on,
    )
    if action is Action.DISCONTINUE:
        cancel_with_prescription(
            uow, caller=ch.caller, now=ch.now, prescription_id=ch.rx.id, reason=reason
        )
    return rec
