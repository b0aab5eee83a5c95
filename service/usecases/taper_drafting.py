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
from service.domain.taper.status import PlanChange, PlanStatus
from service.domain.taper.symptoms import check_threshold, scale_for
from service.usecases.access import load_writable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock, jsonable
from service.usecases.errors import Conflict, NotFound, ValidationFailed, domain_rules
from service.usecases.taper_reporting import TaperPlanView, local_today, plan_view
from service.usecases.tapers import taper_settings


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
) -> tuple[Prescription, PrescriptionVersion, str]:
    """The prescription, locked, its current version and its one ingredient: active,
    without a plan in progress, and of one ingredient from the catalog."""
    rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=True)
    if rx is None:
        raise NotFound(f"No prescription {rx_id} for this patient.")
    if rx.status != Status.ACTIVE:
        raise Conflict(f"This prescription is {rx.status}; only an active one is tapered.")
    existing = uow.tapers.open_for(rx.id)
    if existing is not None:
        raise Conflict(f"This prescription already has a taper plan in progress: {existing.id}.")
    version = uow.prescriptions.version(rx.id, rx.current_version)
    ingredients = tuple(version.ingredients or ())
    if len(ingredients) != 1:
        raise Conflict("Only a single-ingredient prescription from the catalog can be tapered.")
    return rx, version, ingredients[0]


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
        planned = taper.plan_taper(settings)
        _check_threshold(kb, drug_id, settings_in.get("symptom_threshold"))
    _check_prescribable(terms, planned)
    return planned


def _store_draft(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    drug_id: str,
    settings_in: Mapping[str, Any],
    planned: taper.TaperPlan,
) -> tuple[TaperPlan, TaperPlanVersion]:
    """The draft and its first version, stored and audited."""
    by = caller.require().user_id
    plan = TaperPlan(
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
    """A draft plan for an active prescription; nothing changes until it is approved."""
    now = clock()
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        rx, version, ingredient = _taperable(uow, patient_id, rx_id)
        terms = version.terms()
        _check_start_dose(terms, body)
        settings_in = {
            **body,
            "drug": body.get("drug") or ingredient,
            "times": body.get("times") or list(terms.schedule.times),
        }
        planned = _generate(kb, settings_in, ingredient, terms)
        plan, first = _store_draft(
            uow,
            caller=caller,
            now=now,
            rx=rx,
            drug_id=ingredient,
            settings_in=settings_in,
            planned=planned,
        )
        uow.commit()
        return plan_view(plan, [first], planned, local_today(ctx, now))
