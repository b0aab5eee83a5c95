"""Coded conditions, set by the care team (docs/clinical.md, "Conditions"). A
condition is never deleted: it is ended, or replaced by a new entry of its code."""

from __future__ import annotations

import datetime as dt
import uuid

from service.db.tables import PatientCondition
from service.db.uow import UnitOfWork
from service.domain.conditions import Condition, validate_condition
from service.domain.errors import Problems
from service.domain.interactions import KnowledgeBase
from service.domain.pages import Page, sliced
from service.usecases.access import load_writable_patient
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, NotFound, domain_rules
from service.usecases.record.parts import audit_change, read_part
from service.usecases.record.views import ConditionView, condition_view
from service.usecases.rescreening import rescreen


def list_conditions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int = 50,
    offset: int = 0,
) -> Page[ConditionView]:
    rows = read_part(
        uow,
        caller,
        clock,
        patient_id,
        "condition.list",
        "PatientCondition",
        lambda u: u.record.conditions(patient_id),
    )
    return sliced(rows, limit=limit, offset=offset).map(condition_view)


def add_condition(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    condition: Condition,
    note: str | None,
) -> ConditionView:
    """Record a condition (care team). One of the same code already in force is ended
    and replaced, so that a new Child-Pugh class or eGFR keeps the old one on record."""
    problems = Problems()
    validate_condition(condition, prefix="", problems=problems)
    with domain_rules("The condition is not valid."):
        problems.raise_if_any()
    now = clock()
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        uow.record.serialise(patient_id)
        by = caller.require().user_id
        for old in uow.record.conditions(patient_id):
            if old.code == condition.code.value:
                _end(uow, caller, now, old, by=by, reason="Replaced by a new entry.")
        row = PatientCondition(
            patient_id=patient_id,
            code=condition.code.value,
            child_pugh=condition.child_pugh,
            egfr=condition.egfr,
            note=note,
            recorded_by=by,
            recorded_at=now,
        )
        uow.record.add(row)
        view = condition_view(row)
        audit_change(
            uow,
            caller,
            now,
            subtype="condition.create",
            entity="PatientCondition",
            entity_id=row.id,
            patient_id=patient_id,
            after=view,
        )
        rescreen(uow, kb, caller=caller, patient=ctx.patient, now=now, cause="condition.create")
        uow.commit()
        return view


def _end(
    uow: UnitOfWork,
    caller: Caller,
    now: dt.datetime,
    row: PatientCondition,
    *,
    by: uuid.UUID,
    reason: str,
) -> None:
    before = condition_view(row)
    row.ended_at, row.ended_by, row.ended_reason = now, by, reason
    uow.record.touch([row])
    audit_change(
        uow,
        caller,
        now,
        subtype="condition.end",
        entity="PatientCondition",
        entity_id=row.id,
        patient_id=row.patient_id,
        before=before,
        after=condition_view(row),
    )


def end_condition(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    condition_id: uuid.UUID,
    reason: str,
) -> ConditionView:
    now = clock()
    with uow:
        ctx = load_writable_patient(uow, caller=caller, patient_id=patient_id)
        uow.record.serialise(patient_id)
        row = uow.record.condition(patient_id, condition_id)
        if row is None:
            raise NotFound(f"No condition {condition_id} for this patient.")
        if row.ended_at is not None:
            raise Conflict("This condition has already ended.")
        _end(uow, caller, now, row, by=caller.require().user_id, reason=reason)
        rescreen(uow, kb, caller=caller, patient=ctx.patient, now=now, cause="condition.end")
        uow.commit()
        return condition_view(row)
