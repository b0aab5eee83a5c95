"""Revising a prescription's terms: the change is stored as the next version, and
the previous one stays."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from service.db.uow import UnitOfWork
from service.domain.abrupt_stop import AbruptStop, cut_baseline, revision_stop
from service.domain.errors import TransitionError
from service.domain.interactions import Finding, KnowledgeBase
from service.domain.prescriptions import (
    Change,
    PrescriptionTerms,
    Status,
    check_revisable,
    check_same_drug,
    revise,
    taper_held,
)
from service.domain.taper.settings import CAP_WINDOW_DAYS
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, domain_rules
from service.usecases.interactions import knowledge_base_version
from service.usecases.prescribing import check_form
from service.usecases.prescriptions.changing import (
    Changing,
    apply_guard,
    audit_guard,
    begin_change,
    finish_change,
)
from service.usecases.prescriptions.findings import (
    answers,
    audit_screening,
    refuse_unanswered,
    resolved_drug,
    revised_dose_findings,
    store_findings,
)
from service.usecases.prescriptions.versions import append_version, record_of
from service.usecases.prescriptions.views import PrescriptionRecord, shown_to
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.screening import Screening


def revise_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    changes: Mapping[str, Any],
    reason: str | None,
    policy: ReminderPolicy = DEFAULT_POLICY,
    if_version: frozenset[int] | None = None,
    abrupt_stop_reason: str | None = None,
    screening: Screening | None = None,
) -> PrescriptionRecord:
    """A change of terms is stored as the next version; the previous one stays, and
    the doses not yet reminded are planned again from the new terms. With
    `if_version`, only if the prescription is still at one of those versions.
    A change that stops a withdrawal-risk drug or cuts it by more than a taper step
    needs `abrupt_stop_reason` (the abrupt-stop guard)."""
    with uow:
        ch = begin_change(
            uow,
            caller=caller,
            now=clock(),
            patient_id=patient_id,
            rx_id=rx_id,
            if_version=if_version,
        )
        new = _revised(uow, kb, ch, changes)
        if new == ch.current.terms():
            return shown_to(
                caller.require(), record_of(uow, ch.rx, ch.current), locale=ch.patient.locale
            )
        stop = revision_stop(ch.current.terms(), new, today=ch.today, recent=_recent_terms(uow, ch))
        override = apply_guard(uow, kb, ch, stop, abrupt_stop_reason)
        screening = screening or Screening()
        found = _dose_findings(uow, kb, ch, new, screening)
        rec = _store(uow, ch, new, reason=reason, stop=stop, override=override)
        finish_change(
            uow,
            kb,
            policy,
            ch,
            cause="prescription.revise",
            answered=answers(found, screening, caller.require().user_id),
        )
        return shown_to(caller.require(), rec, locale=ch.patient.locale)


def _store(
    uow: UnitOfWork,
    ch: Changing,
    new: PrescriptionTerms,
    *,
    reason: str | None,
    stop: AbruptStop | None,
    override: str | None,
) -> PrescriptionRecord:
    """The new terms as the next version, in the status the prescription has, and an
    override of the guard audited after it."""
    rec = append_version(
        uow,
        caller=ch.caller,
        now=ch.now,
        rx=ch.rx,
        current=ch.current,
        terms=new,
        status=Status(ch.rx.status),
        change=Change.REVISE.value,
        reason=reason,
        abrupt_stop_reason=override,
    )
    audit_guard(uow, ch, stop, override)
    return rec


def _revised(
    uow: UnitOfWork, kb: KnowledgeBase, ch: Changing, changes: Mapping[str, Any]
) -> PrescriptionTerms:
    """The new terms, if the prescription may take `changes`: not once discontinued,
    never another drug, not the terms an open taper plan sets, and a new dose in a
    form the drug comes in."""
    try:
        check_revisable(Status(ch.rx.status))
    except TransitionError as exc:
        raise Conflict(str(exc)) from exc
    old = ch.current.terms()
    with domain_rules("The drug of a prescription cannot be changed."):
        check_same_drug(old, changes)
    tapering = uow.tapers.open_for(ch.rx.id)
    held = taper_held(changes)
    if tapering is not None and held:
        raise Conflict(
            f"This prescription's dose follows taper plan {tapering.id} "
            f"({tapering.status}); change the plan (extend, step back, pause or cancel) "
            "rather than the prescription.",
            errors={name: ["Set by the taper plan."] for name in held},
        )
    with domain_rules("The prescription is not valid."):
        new = revise(old, changes)
    if _doses_change(old, new):
        check_form(kb, resolved_drug(kb, ch.current), new)
    return new


def _doses_change(old: PrescriptionTerms, new: PrescriptionTerms) -> bool:
    return (new.dose, new.schedule, new.route) != (old.dose, old.schedule, old.route)


def _dose_findings(
    uow: UnitOfWork, kb: KnowledgeBase, ch: Changing, new: PrescriptionTerms, screening: Screening
) -> list[Finding]:
    """A change of dose, schedule or route is checked like a new prescription's dose:
    refused while a finding is unanswered, else stored with its answers and audited."""
    if not _doses_change(ch.current.terms(), new):
        return []
    found = revised_dose_findings(uow, kb, ch.patient, ch.current, new, ch.now)
    refuse_unanswered(
        uow,
        kb,
        found,
        screening,
        message="The new dose has findings that need an override or an acknowledgement.",
    )
    if found:
        store_findings(
            uow,
            kb,
            rx=ch.rx,
            findings=found,
            screening=screening,
            label=knowledge_base_version(uow, kb),
            by=ch.caller.require().user_id,
            now=ch.now,
        )
        audit_screening(
            uow, caller=ch.caller, now=ch.now, rx=ch.rx, findings=found, screening=screening
        )
    return found


def _recent_terms(uow: UnitOfWork, ch: Changing) -> list[PrescriptionTerms]:
    """The terms the guard measures a cut from: those in force over its window."""
    since = ch.now - dt.timedelta(days=CAP_WINDOW_DAYS)
    recent = uow.prescriptions.versions_since(ch.rx.id, since)
    return cut_baseline([(v.terms(), bool(v.abrupt_stop_reason)) for v in recent])
