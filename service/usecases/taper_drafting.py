"""Drafting a taper plan for a patient's prescription: from the same settings as a
preview, for an active single-ingredient prescription on a daily schedule in mg,
starting from its current dose. Nothing changes until a clinician approves it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from service.db.tables import Prescription, PrescriptionVersion, TaperPlan, TaperPlanVersion
from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.audit import AuditAction
from service.domain.errors import DomainValidationError, Problems
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import PrescriptionTerms, Status, plain_amount
from service.domain.taper.changes import step_terms
from service.domain.taper.status import PlanChange, PlanStatus, check_change
from service.domain.taper.symptoms import check_threshold, scale_for
from service.usecases.access import load_writable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock, jsonable
from service.usecases.errors import Conflict, NotFound, ValidationFailed, domain_rules
from service.usecases.taper_reporting import TaperPlanView, local_today, plan_view
from service.usecases.taper_versions import add_plan_version
from service.usecases.tapers import explained, floor_for, taper_settings


def _daily_dose_mg(terms: PrescriptionTerms) -> Decimal | None:
    """The prescription's daily dose in mg, when it is one (doses in mg, every day)."""
    schedule = terms.schedule
    daily = schedule.every_n_days == 1 and schedule.days_of_week is None
    if terms.dose.unit != "mg" or schedule.as_needed or not daily:
        return None
    return plain_amount(schedule.daily_total(terms.dose.amount))


def _check_threshold(kb: KnowledgeBase, drug_id: str, threshold: int | None) -> None:
    if threshold is None:
        return
    problems = Problems()
    scale = scale_for(kb.catalog.drugs[drug_id].classes)
    check_threshold(scale, threshold, problems, "symptom_threshold")
    problems.raise_if_any()


def _check_prescribable(terms: PrescriptionTerms, planned: taper.TaperPlan) -> None:
    """Every step must be a prescription the scheduler can write (amounts to four
    decimal places), and the prescription must last until the taper ends."""
    for step in planned.steps:
        try:
            step_terms(terms, step)
        except DomainValidationError as exc:
            raise ValidationFailed(
                "A step of this plan cannot be prescribed.",
                errors={"formulations": [f"Step {step.index}: {exc}"]},
            ) from exc
    last = planned.steps[-1].start_date
    if terms.end_date is not None and terms.end_date < last:
        raise Conflict(
            f"The prescription ends on {terms.end_date}, before the taper's last step "
            f"({last}); revise its end date first, so that it is not stopped abruptly."
        )


def _taperable(
    uow: UnitOfWork, patient_id: uuid.UUID, rx_id: uuid.UUID
) -> tuple[Prescription, PrescriptionVersion, str, TaperPlan | None]:
    """The prescription, locked, its current version, its one ingredient and its
    draft, if it has one (locked, to be superseded): active, without a plan under
    way, and of one ingredient from the catalog."""
    rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=True)
    if rx is None:
        raise NotFound(f"No prescription {rx_id} for this patient.")
    if rx.status != Status.ACTIVE:
        raise Conflict(f"This prescription is {rx.status}; only an active one is tapered.")
    existing = uow.tapers.open_for(rx.id, for_update=True)
    if existing is not None and existing.status != PlanStatus.DRAFT:
        raise Conflict(
            f"This prescription already has a taper plan {existing.status}: {existing.id}; "
            "change that plan (extend, step back, pause) or cancel it first."
        )
    version = uow.prescriptions.version(rx.id, rx.current_version)
    ingredients = tuple(version.ingredients or ())
    if len(ingredients) != 1:
        raise Conflict("Only a single-ingredient prescription from the catalog can be tapered.")
    return rx, version, ingredients[0], existing


def _check_start_date(body: Mapping[str, Any], today: dt.date) -> None:
    """A plan starts today or later in the patient's time zone: a step in the past
    would start at once, with the ones after it, on approval."""
    start: dt.date = body["start_date"]
    if start < today:
        raise ValidationFailed(
            "A taper plan cannot start in the past.",
            errors={
                "start_date": [
                    f"{start.isoformat()} is before the patient's today ({today.isoformat()})."
                ]
            },
        )


def _supersede(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    today: dt.date,
    draft: TaperPlan,
    by_plan: uuid.UUID,
) -> None:
    """The prescription's draft ends cancelled (a new version, audited), replaced by
    plan `by_plan`: a draft never blocks a newer one, stale (its start date passed)
    or not."""
    check_change(draft.status, PlanChange.SUPERSEDE)
    current = uow.tapers.versions(draft.id)[-1]
    planned = taper.TaperPlan.from_json(current.plan)
    first = planned.steps[0].start_date
    stale = f" Its start date, {first.isoformat()}, had passed." if first < today else ""
    add_plan_version(
        uow,
        caller=caller,
        plan=draft,
        current=current,
        change=PlanChange.SUPERSEDE,
        status=PlanStatus.CANCELLED,
        planned=planned,
        approved=list(current.approved_steps),
        reason=f"Superseded by plan {by_plan}.{stale}",
        by=caller.require().user_id,
        now=now,
    )
    draft.next_step_at = None


def _check_start_dose(terms: PrescriptionTerms, body: Mapping[str, Any]) -> None:
    """A taper runs on a daily schedule in mg and starts from the current dose."""
    daily = _daily_dose_mg(terms)
    if daily is None:
        raise Conflict(
            "A taper runs on a daily schedule in mg; revise the prescription to "
            "daily times with its dose in mg first."
        )
    if Decimal(body["start_dose_mg"]) != daily:
        raise ValidationFailed(
            "A taper starts from the current dose.",
            errors={"start_dose_mg": [f"The prescription gives {daily} mg a day."]},
        )


def _generate(
    kb: KnowledgeBase, settings_in: Mapping[str, Any], ingredient: str, terms: PrescriptionTerms
) -> taper.TaperPlan:
    """The plan from the settings, for the prescription's drug, every step of it
    prescribable."""
    drug_id, settings = taper_settings(kb, settings_in)
    if drug_id != ingredient:
        raise ValidationFailed(
            "The plan must taper the prescription's drug.",
            errors={"drug": [f"This prescription is for {ingredient}."]},
        )
    with domain_rules("The taper settings are not valid."):
        planned = explained(kb, drug_id, settings, taper.plan_taper(settings))
        _check_threshold(kb, drug_id, settings_in.get("symptom_threshold"))
    _check_prescribable(terms, planned)
    return planned


def _store_draft(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    plan_id: uuid.UUID,
    rx: Prescription,
    drug_id: str,
    settings_in: Mapping[str, Any],
    planned: taper.TaperPlan,
) -> tuple[TaperPlan, TaperPlanVersion]:
    """The draft and its first version, stored and audited."""
    by = caller.require().user_id
    plan = TaperPlan(
        id=plan_id,
        prescription_id=rx.id,
        patient_id=rx.patient_id,
        drug=drug_id,
        status=PlanStatus.DRAFT.value,
        current_version=1,
        created_by=by,
        created_at=now,
        updated_at=now,
    )
    first = TaperPlanVersion(
        plan_id=plan.id,
        version=1,
        change=PlanChange.CREATE.value,
        status=PlanStatus.DRAFT.value,
        settings=jsonable(dict(settings_in)),
        plan=planned.to_json(),
        approved_steps=[],
        created_by=by,
        created_at=now,
    )
    uow.tapers.add(plan, first)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="taper.create",
        entity_type="TaperPlan",
        entity_id=plan.id,
        patient_id=plan.patient_id,
        after={"drug": drug_id, "steps": len(planned.steps), "total_days": planned.total_days},
    )
    return plan, first


def create_taper_plan(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    body: Mapping[str, Any],
) -> TaperPlanView:
    """A draft plan for an active prescription; nothing changes until it is approved.
    A draft the prescription already has is superseded by the new one."""
    now = clock()
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        today = local_today(ctx, now)
        rx, version, ingredient, draft = _taperable(uow, patient_id, rx_id)
        terms = version.terms()
        _check_start_date(body, today)
        _check_start_dose(terms, body)
        settings_in = {
            **body,
            "drug": body.get("drug") or ingredient,
            "times": body.get("times") or list(terms.schedule.times),
        }
        drug = kb.catalog.drugs.get(ingredient)
        if drug is not None:
            # Stored as used, so that a later re-plan keeps the same floor.
            settings_in["floor_dose_mg"] = floor_for(drug, body.get("floor_dose_mg"))
        planned = _generate(kb, settings_in, ingredient, terms)
        plan_id = uuid.uuid4()
        if draft is not None:
            # Before the new draft is stored: one plan in progress per prescription.
            _supersede(uow, caller=caller, now=now, today=today, draft=draft, by_plan=plan_id)
        plan, first = _store_draft(
            uow,
            caller=caller,
            now=now,
            plan_id=plan_id,
            rx=rx,
            drug_id=ingredient,
            settings_in=settings_in,
            planned=planned,
        )
        uow.commit()
        return plan_view(plan, [first], planned, today)
