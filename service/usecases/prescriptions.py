"""Prescriptions: entered by the care team, read by the patient, versioned on change."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from service.db.tables import Patient, Prescription, PrescriptionFinding, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.abrupt_stop import CAP_WINDOW_DAYS, revision_stop, status_stop
from service.domain.audit import AuditAction
from service.domain.catalog import Resolved
from service.domain.errors import TransitionError
from service.domain.interactions import Finding, Item, Kind, KnowledgeBase
from service.domain.prescriptions import (
    Action,
    Dose,
    PrescriptionTerms,
    Schedule,
    Status,
    revise,
    transition,
    validate_terms,
)
from service.usecases.abrupt_stop import audit_override, guard
from service.usecases.access import load_readable_patient, load_writable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import (
    Conflict,
    InteractionConflict,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
    domain_rules,
)
from service.usecases.interactions import knowledge_base_version, patient_facts
from service.usecases.planning import plan, replan
from service.usecases.prescribing import check_form, dose_findings, resolve_prescribed, screen
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.rescreening import Answered, rescreen
from service.usecases.screening import Screening, blocking, finding_json, resolution
from service.usecases.taper_plans import cancel_with_prescription


@dataclass(frozen=True, kw_only=True)
class PrescriptionRecord:
    """One version of a prescription as clients see it."""

    id: uuid.UUID
    patient_id: uuid.UUID
    version: int
    status: str
    drug: str
    drug_id: str | None
    drug_name: str | None
    ingredients: tuple[str, ...]
    screening: str
    unlisted_reason: str | None
    dose: Dose
    route: str
    schedule: Schedule
    start_date: dt.date
    end_date: dt.date | None
    instructions: str | None
    change: str
    reason: str | None
    abrupt_stop_reason: str | None
    resume_on: dt.date | None
    created_by: uuid.UUID
    created_at: dt.datetime
    updated_at: dt.datetime
    findings: tuple[dict[str, Any], ...] = ()


def _record(
    rx: Prescription, v: PrescriptionVersion, findings: Sequence[PrescriptionFinding] = ()
) -> PrescriptionRecord:
    t = v.terms()
    return PrescriptionRecord(
        id=rx.id,
        patient_id=rx.patient_id,
        version=v.version,
        status=v.status,
        drug=t.drug,
        drug_id=v.drug_id,
        drug_name=v.drug_name,
        ingredients=tuple(v.ingredients or ()),
        screening=v.screening,
        unlisted_reason=v.unlisted_reason,
        findings=tuple(_finding_out(f) for f in findings),
        dose=t.dose,
        route=t.route,
        schedule=t.schedule,
        start_date=t.start_date,
        end_date=t.end_date,
        instructions=t.instructions,
        change=v.change,
        reason=v.reason,
        abrupt_stop_reason=v.abrupt_stop_reason,
        resume_on=v.resume_on,
        created_by=v.created_by,
        created_at=rx.created_at,
        updated_at=v.created_at,
    )


def _finding_out(f: PrescriptionFinding) -> dict[str, Any]:
    return {
        **f.detail,
        "resolution": f.resolution,
        "reason": f.reason,
        "knowledge_base_version": f.knowledge_base_version,
    }


def _audited(rec: PrescriptionRecord) -> PrescriptionRecord:
    """The record as the audit trail keeps it; findings have their own entries."""
    return replace(rec, findings=())


@dataclass(frozen=True, kw_only=True)
class VersionFacts:
    """What a version records beside its terms: carried from version to version
    (name, screening), or said of this change only (abrupt-stop reason, resume date)."""

    drug_name: str | None = None
    screening: str = "full"
    unlisted_reason: str | None = None
    abrupt_stop_reason: str | None = None
    resume_on: dt.date | None = None

    @classmethod
    def carried_from(cls, v: PrescriptionVersion) -> VersionFacts:
        return cls(drug_name=v.drug_name, screening=v.screening, unlisted_reason=v.unlisted_reason)


def _version_row(
    *,
    rx_id: uuid.UUID,
    drug_id: str | None,
    ingredients: Sequence[str] | None,
    number: int,
    terms: PrescriptionTerms,
    status: Status,
    change: str,
    reason: str | None,
    by: uuid.UUID,
    now: dt.datetime,
    carried: VersionFacts | None = None,
) -> PrescriptionVersion:
    facts = carried or VersionFacts()
    return PrescriptionVersion(
        prescription_id=rx_id,
        version=number,
        drug=terms.drug,
        drug_id=drug_id,
        ingredients=list(ingredients) if ingredients is not None else None,
        dose_amount=terms.dose.amount,
        dose_unit=terms.dose.unit,
        route=terms.route,
        schedule=terms.schedule.to_json(),
        start_date=terms.start_date,
        end_date=terms.end_date,
        instructions=terms.instructions,
        status=status.value,
        change=change,
        reason=reason,
        abrupt_stop_reason=facts.abrupt_stop_reason,
        resume_on=facts.resume_on,
        drug_name=facts.drug_name,
        screening=facts.screening,
        unlisted_reason=facts.unlisted_reason,
        created_by=by,
        created_at=now,
    )


def create_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    terms: PrescriptionTerms,
    screening: Screening | None = None,
    policy: ReminderPolicy = DEFAULT_POLICY,
) -> PrescriptionRecord:
    """Prescribe after screening the patient's whole record against the drug; see
    `Screening` for how findings gate it."""
    now = clock()
    screening = screening or Screening()
    with domain_rules("The prescription is not valid."):
        terms = validate_terms(terms)
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        uow.record.serialise(patient_id)
        drug = resolve_prescribed(uow, kb, terms.drug, screening)
        check_form(kb, drug, terms)
        screened = screen(uow, kb, patient=ctx.patient, drug=drug, terms=terms, now=now)
        findings = screened.findings
        version_label = knowledge_base_version(uow, kb)
        refused = blocking(findings, screening)
        if refused:
            raise InteractionConflict(
                "The prescription has findings that need an override or an acknowledgement.",
                findings=[finding_json(kb, f) for f in refused],
                knowledge_base_version=version_label,
            )
        by = caller.require().user_id
        rx = Prescription(
            patient_id=patient_id,
            status=Status.ACTIVE.value,
            current_version=1,
            created_by=by,
            created_at=now,
            updated_at=now,
        )
        version = _version_row(
            rx_id=rx.id,
            drug_id=drug.entry_id if drug and drug.in_catalog else None,
            # An unlisted drug keeps what its name revealed, so that its withdrawal
            # risk and interactions still count on every later change.
            ingredients=screened.item.ingredients or None,
            number=1,
            terms=terms,
            status=Status.ACTIVE,
            change="create",
            reason=None,
            by=by,
            now=now,
            carried=VersionFacts(
                drug_name=drug.name if drug else None,
                screening="partial" if screened.partial else "full",
                unlisted_reason=(screening.unlisted_reason or "").strip() or None
                if screened.partial
                else None,
            ),
        )
        uow.prescriptions.add(rx, version)
        stored = _store_findings(
            uow,
            kb,
            rx=rx,
            findings=findings,
            screening=screening,
            label=version_label,
            by=by,
            now=now,
        )
        rec = _record(rx, version, stored)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype="prescription.create",
            entity_type="Prescription",
            entity_id=rx.id,
            patient_id=patient_id,
            after=_audited(rec),
        )
        _audit_screening(uow, caller=caller, now=now, rx=rx, findings=findings, screening=screening)
        if screened.partial:
            _audit_unlisted(uow, caller=caller, now=now, rx=rx, rec=rec, findings=findings)
        rescreen(
            uow,
            kb,
            caller=caller,
            patient=ctx.patient,
            now=now,
            cause="prescription.create",
            answered=_answers(findings, screening, by),
        )
        plan(uow, kb, policy, now=now, patient_id=patient_id)
        uow.commit()
        return rec


def _store_findings(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    rx: Prescription,
    findings: Sequence[Finding],
    screening: Screening,
    label: str,
    by: uuid.UUID,
    now: dt.datetime,
) -> list[PrescriptionFinding]:
    """The findings raised by this version, with how the prescriber answered each."""
    stored = [
        PrescriptionFinding(
            prescription_id=rx.id,
            finding_id=f.id,
            kind=f.kind.value,
            severity=f.severity.value,
            resolution=resolution(f, screening).value,
            reason=screening.override_reason if f in screening.overridden([f]) else None,
            knowledge_base_version=label,
            detail=finding_json(kb, f),
            created_by=by,
            created_at=now,
        )
        for f in findings
    ]
    uow.prescriptions.add_findings(stored)
    return stored


def _audit_screening(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    findings: Sequence[Finding],
    screening: Screening,
) -> None:
    """One audit entry per override or acknowledgement, naming the findings it answered."""
    for subtype, picked in (
        ("prescription.interaction-override", screening.overridden(findings)),
        ("prescription.interaction-acknowledge", screening.acknowledged(findings)),
    ):
        if not picked:
            continue
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype=subtype,
            entity_type="Prescription",
            entity_id=rx.id,
            patient_id=rx.patient_id,
            after={
                "findings": [
                    {"id": f.id, "kind": f.kind.value, "severity": f.severity.value, "rule": f.rule}
                    for f in picked
                ],
                "reason": screening.override_reason,
                "unlisted_drug_confirmed": screening.confirm_unlisted,
            },
        )


def _audit_unlisted(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    rec: PrescriptionRecord,
    findings: Sequence[Finding],
) -> None:
    """A prescription the catalog could not screen in full: who confirmed it, why, and
    which checks could not run."""
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="prescription.unlisted-confirm",
        entity_type="Prescription",
        entity_id=rx.id,
        patient_id=rx.patient_id,
        after={
            "drug": rec.drug,
            "unlisted_reason": rec.unlisted_reason,
            "screening": rec.screening,
            "not_checked": [f.mechanism for f in findings if f.kind is Kind.PARTIAL_SCREENING],
        },
    )


def list_prescriptions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    status: Status | None,
    limit: int,
    offset: int,
) -> list[PrescriptionRecord]:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rows = uow.prescriptions.list_current(
            patient_id=patient_id,
            status=status.value if status else None,
            limit=limit,
            offset=offset,
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.list",
            entity_type="Prescription",
            patient_id=patient_id,
        )
        findings = uow.prescriptions.findings([rx.id for rx, _ in rows])
        return [_record(rx, v, findings[rx.id]) for rx, v in rows]


def _load(
    uow: UnitOfWork, patient_id: uuid.UUID, rx_id: uuid.UUID, *, lock: bool = False
) -> Prescription:
    rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=lock)
    if rx is None:
        raise NotFound(f"No prescription {rx_id} for this patient.")
    return rx


def get_prescription(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
) -> PrescriptionRecord:
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rx = _load(uow, patient_id, rx_id)
        rec = _record(
            rx,
            uow.prescriptions.version(rx.id, rx.current_version),
            uow.prescriptions.findings([rx.id])[rx.id],
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.read",
            entity_type="Prescription",
            patient_id=patient_id,
            entity_id=rx_id,
        )
        return rec


def list_versions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    limit: int | None = None,
    offset: int = 0,
) -> list[PrescriptionRecord]:
    """The prescription's versions, oldest first, a page at a time."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rx = _load(uow, patient_id, rx_id)
        findings = uow.prescriptions.findings([rx.id])[rx.id]
        versions = uow.prescriptions.versions(rx.id, limit=limit, offset=offset)
        records = [_record(rx, v, findings) for v in versions]
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="prescription.versions",
            entity_type="Prescription",
            patient_id=patient_id,
            entity_id=rx_id,
        )
        return records


def append_version(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    current: PrescriptionVersion,
    terms: PrescriptionTerms,
    status: Status,
    change: str,
    reason: str | None,
    on_behalf_of: uuid.UUID | None = None,
    abrupt_stop_reason: str | None = None,
    resume_on: dt.date | None = None,
) -> PrescriptionRecord:
    """Store `terms` and `status` as the prescription's next version and audit it.
    The author is the caller, or `on_behalf_of` for the scheduler (the clinician
    whose approval it carries out)."""
    findings = uow.prescriptions.findings([rx.id])[rx.id]
    before = _record(rx, current, findings)
    rx.current_version += 1
    rx.status = status.value
    rx.updated_at = now
    version = _version_row(
        rx_id=rx.id,
        drug_id=current.drug_id,
        ingredients=current.ingredients,
        number=rx.current_version,
        terms=terms,
        status=status,
        change=change,
        reason=reason,
        by=on_behalf_of or caller.require().user_id,
        now=now,
        carried=replace(
            VersionFacts.carried_from(current),
            abrupt_stop_reason=abrupt_stop_reason,
            # A change made during a pause keeps the date it ends.
            resume_on=resume_on or (current.resume_on if status is Status.PAUSED else None),
        ),
    )
    uow.prescriptions.add_version(rx, version)
    after = _record(rx, version, findings)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype=f"prescription.{change}",
        entity_type="Prescription",
        entity_id=rx.id,
        patient_id=rx.patient_id,
        before=_audited(before),
        after=_audited(after),
        actor_id=on_behalf_of,
    )
    return after


def _check_version(rx: Prescription, allowed: frozenset[int] | None) -> None:
    """Under the prescription's row lock, so two edits from one version cannot both pass."""
    if allowed is not None and rx.current_version not in allowed:
        raise PreconditionFailed(
            f"The prescription is at version {rx.current_version}, not the version this "
            "change was based on; read it again and reapply the change.",
            current_version=rx.current_version,
        )


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
    now = clock()
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        uow.record.serialise(patient_id)
        rx = _load(uow, patient_id, rx_id, lock=True)
        _check_version(rx, if_version)
        if rx.status == Status.DISCONTINUED.value:
            raise Conflict("A discontinued prescription cannot be changed; prescribe anew.")
        current = uow.prescriptions.version(rx.id, rx.current_version)
        old = current.terms()
        if changes.get("drug", old.drug).strip().casefold() != old.drug.casefold():
            raise ValidationFailed(
                "The drug of a prescription cannot be changed.",
                errors={
                    "drug": [
                        "Prescribe the new drug (its interactions are checked) and "
                        "discontinue this prescription instead."
                    ]
                },
            )
        tapering = uow.tapers.open_for(rx.id)
        held = sorted({"dose", "schedule", "start_date", "end_date"} & set(changes))
        if tapering is not None and held:
            raise Conflict(
                f"This prescription's dose follows taper plan {tapering.id} "
                f"({tapering.status}); change the plan (extend, step back, pause or cancel) "
                "rather than the prescription.",
                errors={name: ["Set by the taper plan."] for name in held},
            )
        with domain_rules("The prescription is not valid."):
            new = revise(old, changes)
        if new == old:
            return _record(rx, current, uow.prescriptions.findings([rx.id])[rx.id])
        dosing = (new.dose, new.schedule, new.route) != (old.dose, old.schedule, old.route)
        if dosing:
            check_form(kb, _resolved(kb, current), new)
        today = _local_today(ctx.patient, now)
        stop = revision_stop(old, new, today=today, recent=_recent_terms(uow, rx, now))
        override = guard(
            uow,
            kb,
            current=current,
            stop=stop,
            reason=abrupt_stop_reason,
            today=today,
        )
        screening = screening or Screening()
        findings = _dose_findings(uow, kb, ctx.patient, current, new, now) if dosing else []
        refused = blocking(findings, screening)
        if refused:
            raise InteractionConflict(
                "The new dose has findings that need an override or an acknowledgement.",
                findings=[finding_json(kb, f) for f in refused],
                knowledge_base_version=knowledge_base_version(uow, kb),
            )
        if findings:
            _store_findings(
                uow,
                kb,
                rx=rx,
                findings=findings,
                screening=screening,
                label=knowledge_base_version(uow, kb),
                by=caller.require().user_id,
                now=now,
            )
            _audit_screening(
                uow, caller=caller, now=now, rx=rx, findings=findings, screening=screening
            )
        rec = append_version(
            uow,
            caller=caller,
            now=now,
            rx=rx,
            current=current,
            terms=new,
            status=Status(rx.status),
            change="revise",
            reason=reason,
            abrupt_stop_reason=override,
        )
        if stop is not None and override is not None:
            audit_override(
                uow, caller=caller, now=now, rx=rx, current=current, stop=stop, reason=override
            )
        rescreen(
            uow,
            kb,
            caller=caller,
            patient=ctx.patient,
            now=now,
            cause="prescription.revise",
            answered=_answers(findings, screening, caller.require().user_id),
        )
        replan(uow, kb, policy, now=now, prescription_id=rx.id)
        uow.commit()
        return rec


def _recent_terms(uow: UnitOfWork, rx: Prescription, now: dt.datetime) -> list[PrescriptionTerms]:
    """The terms in force over the guard's window, from the last overridden stop or cut
    on (that one set a new baseline with its reason)."""
    recent = uow.prescriptions.versions_since(rx.id, now - dt.timedelta(days=CAP_WINDOW_DAYS))
    last_override = max((i for i, v in enumerate(recent) if v.abrupt_stop_reason), default=0)
    return [v.terms() for v in recent[last_override:]]


def _answers(
    findings: Sequence[Finding], screening: Screening, by: uuid.UUID
) -> dict[str, Answered]:
    """The findings the prescriber answered with this change, as the record keeps them."""
    answers = {
        f.id: Answered(by=by, reason="Acknowledged when prescribed.")
        for f in screening.acknowledged(findings)
    }
    for f in screening.overridden(findings):
        answers[f.id] = Answered(by=by, reason=screening.override_reason or "Overridden.")
    return answers


def _resolved(kb: KnowledgeBase, v: PrescriptionVersion) -> Resolved | None:
    """What the version's drug resolved to when it was prescribed (None if unlisted)."""
    if v.drug_id is None or (
        v.drug_id not in kb.catalog.drugs and v.drug_id not in kb.catalog.products
    ):
        return None
    return Resolved(
        input=v.drug,
        entry_id=v.drug_id,
        name=v.drug_name or kb.catalog.display_name(v.drug_id),
        ingredients=tuple(v.ingredients or ()),
    )


def _dose_findings(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    patient: Patient,
    current: PrescriptionVersion,
    terms: PrescriptionTerms,
    now: dt.datetime,
) -> list[Finding]:
    """The dose-range findings of revised terms (the drug and its interactions are
    unchanged by a revision)."""
    drug = _resolved(kb, current)
    if drug is None:
        return []
    item = Item(input=terms.drug, name=drug.name, ingredients=drug.ingredients)
    return dose_findings(kb, item=item, terms=terms, patient=patient_facts(uow, kb, patient, now))


def _local_today(patient: Patient, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(patient.timezone)).date()


def _check_resume_on(action: Action, resume_on: dt.date | None, *, today: dt.date) -> None:
    if resume_on is None:
        return
    if action is not Action.PAUSE:
        raise ValidationFailed(
            "Only a pause takes a resume date.", errors={"resume_on": ["Only for a pause."]}
        )
    if resume_on <= today:
        raise ValidationFailed(
            "A pause resumes on a later day.",
            errors={"resume_on": [f"Must be after today ({today}) in the patient's time zone."]},
        )


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
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        uow.record.serialise(patient_id)
        rx = _load(uow, patient_id, rx_id, lock=True)
        _check_version(rx, if_version)
        try:
            status = transition(Status(rx.status), action)
        except TransitionError as exc:
            raise Conflict(str(exc)) from exc
        current = uow.prescriptions.version(rx.id, rx.current_version)
        _check_resume_on(action, resume_on, today=_local_today(ctx.patient, now))
        stops = action is Action.DISCONTINUE or (action is Action.PAUSE and resume_on is None)
        stop = (
            status_stop(current.terms(), discontinue=action is Action.DISCONTINUE)
            if stops
            else None
        )
        override = guard(
            uow,
            kb,
            current=current,
            stop=stop,
            reason=abrupt_stop_reason,
            today=_local_today(ctx.patient, now),
        )
        rec = append_version(
            uow,
            caller=caller,
            now=now,
            rx=rx,
            current=current,
            terms=current.terms(),
            status=status,
            change=action.value,
            reason=reason.strip(),
            abrupt_stop_reason=override,
            resume_on=resume_on,
        )
        if action is Action.DISCONTINUE:
            cancel_with_prescription(
                uow, caller=caller, now=now, prescription_id=rx.id, reason=reason.strip()
            )
        if stop is not None and override is not None:
            audit_override(
                uow, caller=caller, now=now, rx=rx, current=current, stop=stop, reason=override
            )
        rescreen(
            uow, kb, caller=caller, patient=ctx.patient, now=now, cause=f"prescription.{action}"
        )
        replan(uow, kb, policy, now=now, prescription_id=rx.id)
        uow.commit()
        return rec
