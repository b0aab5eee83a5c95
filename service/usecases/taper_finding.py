"""Finding a patient's taper plans: all of them, those of one prescription, or the
signed-in patient's own; newest first, each as `get_taper_plan` shows it. Who may
read them is who may read the patient's record; every list is audited.

A page of plans is read in a fixed number of queries, whatever its size: the
plans, then their versions, started steps and latest symptom reports, each for the
whole page at once.
"""

from __future__ import annotations

import datetime as dt
import uuid

from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.accounts import Role
from service.domain.pages import Page
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, NotFound
from service.usecases.taper_reporting import (
    REPORTS_SHOWN,
    TaperPlanView,
    local_today,
    plan_shown_to,
    plan_view,
)


def _page(
    uow: UnitOfWork,
    patient_id: uuid.UUID,
    today: dt.date,
    *,
    prescription_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> Page[TaperPlanView]:
    plans = uow.tapers.of_patient(
        patient_id, prescription_id=prescription_id, limit=limit, offset=offset
    )
    ids = [p.id for p in plans]
    versions = uow.tapers.versions_of(ids)
    records = uow.tapers.records_of(ids)
    reports = uow.tapers.reports_of(ids, limit=REPORTS_SHOWN)
    return plans.map(
        lambda p: plan_view(
            p,
            versions[p.id],
            taper.TaperPlan.from_json(versions[p.id][-1].plan),
            today,
            records[p.id],
            reports[p.id],
        )
    )


def _listed(
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    *,
    prescription_id: uuid.UUID | None,
    limit: int,
    offset: int,
) -> Page[TaperPlanView]:
    """The page, for a caller who may read the patient (404 otherwise); audited."""
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        if prescription_id is not None and (
            uow.prescriptions.get(patient_id=patient_id, rx_id=prescription_id) is None
        ):
            raise NotFound(f"No prescription {prescription_id} for this patient.")
        found = _page(
            uow,
            patient_id,
            local_today(ctx, clock()),
            prescription_id=prescription_id,
            limit=limit,
            offset=offset,
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="taper.list",
            entity_type="TaperPlan",
            entity_id=prescription_id,
            patient_id=patient_id,
        )
        return found.map(lambda view: plan_shown_to(caller.require(), view))


def list_patient_taper_plans(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int,
    offset: int,
) -> Page[TaperPlanView]:
    """Every plan of the patient's prescriptions, newest first."""
    return _listed(uow, caller, clock, patient_id, prescription_id=None, limit=limit, offset=offset)


def list_prescription_taper_plans(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
    limit: int,
    offset: int,
) -> Page[TaperPlanView]:
    """The plans of one prescription, newest first (at most one in progress)."""
    return _listed(
        uow, caller, clock, patient_id, prescription_id=rx_id, limit=limit, offset=offset
    )


def list_my_taper_plans(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, limit: int, offset: int
) -> Page[TaperPlanView]:
    """The signed-in patient's own plans, newest first."""
    who = caller.require()
    if who.role is not Role.PATIENT or who.patient_id is None:
        raise Forbidden("Only a patient has taper plans of their own.")
    return _listed(
        uow, caller, clock, who.patient_id, prescription_id=None, limit=limit, offset=offset
    )
