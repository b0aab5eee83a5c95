"""What to dispense for each period of a taper: whole tablets of each strength and
whole bottles of each liquid, counting what is left from the period before
(docs/clinical.md, "Supply and refills"), for the prescriber to write and the
pharmacy to dispense."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from service.db.uow import UnitOfWork
from service.domain.catalog import Formulation
from service.domain.errors import Problems
from service.domain.interactions import KnowledgeBase
from service.domain.supply.dispensing import (
    MAX_PERIOD_DAYS,
    MIN_PERIOD_DAYS,
    Dispensing,
    csv_rows,
    dispensing,
)
from service.domain.supply.use import parse_label, plan_labels
from service.domain.taper import TaperPlan
from service.domain.taper.formulations import Liquid, TaperFormulation, offered
from service.domain.taper.status import PlanStatus
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict
from service.usecases.taper_reporting import readable_plan


@dataclass(frozen=True, kw_only=True)
class DispensingView:
    plan_id: uuid.UUID
    prescription_id: uuid.UUID
    patient_id: uuid.UUID
    drug: str
    status: str
    plan_version: int
    table: Dispensing


def bottle_sizes(formulations: Iterable[Formulation]) -> dict[str, tuple[Decimal, ...]]:
    """The catalog's bottle sizes of each oral liquid, by the label a plan names it."""
    out: dict[str, tuple[Decimal, ...]] = {}
    for f in formulations:
        if f.bottles_ml and f.unit == "mg/mL":
            for s in f.strengths:
                out[Liquid(mg_per_ml=s, form=f.form).label] = f.bottles_ml
    return out


def plan_formulations(
    kb: KnowledgeBase, drug: str, plan: TaperPlan
) -> tuple[TaperFormulation, ...]:
    """The plan's formulations, as the catalog describes them where it lists them."""
    entry = kb.catalog.drugs.get(drug)
    known = {f.label: f for f in offered(entry.formulations)} if entry is not None else {}
    out = []
    for label in plan_labels(plan):
        found = known.get(label) or parse_label(label)
        if found is not None:
            out.append(found)
    return tuple(out)


def taper_dispensing(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    plan_id: uuid.UUID,
    period_days: int,
) -> DispensingView:
    """The dispensing table of the plan's current version, period by period."""
    if not MIN_PERIOD_DAYS <= period_days <= MAX_PERIOD_DAYS:
        problems = Problems()
        problems.add(
            "period_days", f"Must be between {MIN_PERIOD_DAYS} and {MAX_PERIOD_DAYS} days."
        )
        problems.raise_if_any()
    with uow:
        plan, _ = readable_plan(uow, caller, plan_id)
        if plan.status == PlanStatus.CANCELLED:
            raise Conflict("The plan was cancelled: nothing is dispensed for it.")
        version = uow.tapers.versions(plan.id)[-1]
        steps = TaperPlan.from_json(version.plan)
        entry = kb.catalog.drugs.get(plan.drug)
        table = dispensing(
            steps,
            plan_formulations(kb, plan.drug, steps),
            period_days=period_days,
            bottles=bottle_sizes(entry.formulations) if entry is not None else {},
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="taper.dispensing",
            entity_type="TaperPlan",
            entity_id=plan.id,
            patient_id=plan.patient_id,
        )
        return DispensingView(
            plan_id=plan.id,
            prescription_id=plan.prescription_id,
            patient_id=plan.patient_id,
            drug=plan.drug,
            status=plan.status,
            plan_version=version.version,
            table=table,
        )


def csv_name(view: DispensingView) -> str:
    """The CSV's file name, naming the plan, its version and its status (a pharmacy
    can tell a draft's table from an approved plan's)."""
    return f"dispensing-{view.plan_id}-v{view.plan_version}-{view.status}.csv"


def dispensing_csv(view: DispensingView) -> str:
    """The table as CSV for the pharmacy: one row per period and formulation, then the
    totals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(csv_rows(view.table))
    return out.getvalue()
