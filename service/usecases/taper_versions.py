"""A taper plan's versions: every change, a clinician's or the scheduler's, is
stored as the plan's next version and audited, and the plan's next look by the
scheduler follows its steps."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Set

from service.db.tables import TaperPlan, TaperPlanVersion
from service.db.uow import UnitOfWork
from service.domain import taper
from service.domain.taper.changes import next_due
from service.domain.taper.status import RUNNING, PlanChange, PlanStatus
from service.usecases.context import Caller
from service.usecases.versioning import VersionAudit, store_next_version


def add_plan_version(
    uow: UnitOfWork,
    *,
    caller: Caller,
    plan: TaperPlan,
    current: TaperPlanVersion,
    change: PlanChange,
    status: PlanStatus,
    planned: taper.TaperPlan,
    approved: list[int],
    reason: str | None,
    by: uuid.UUID,
    now: dt.datetime,
) -> TaperPlanVersion:
    """The plan's next version, carrying `status`, the steps `planned` and the
    approvals, audited as `taper.<change>`. `by` is the clinician who answers for
    it (the caller, or for the scheduler the clinician whose approval it carries
    out)."""
    return store_next_version(
        uow,
        caller=caller,
        now=now,
        head=plan,
        status=status,
        build=lambda number: TaperPlanVersion(
            plan_id=plan.id,
            version=number,
            change=change.value,
            status=status.value,
            settings=current.settings,
            plan=planned.to_json(),
            approved_steps=approved,
            reason=(reason or "").strip() or None,
            created_by=by,
            created_at=now,
        ),
        store=uow.tapers,
        audit=VersionAudit(
            entity_type="TaperPlan",
            subtype=f"taper.{change.value}",
            before={"status": plan.status, "version": plan.current_version},
            after=lambda nxt: {
                "status": status.value,
                "version": nxt.version,
                "reason": nxt.reason,
            },
            actor_id=by,
        ),
    )


def schedule_next(
    plan: TaperPlan, planned: taper.TaperPlan, zone: zoneinfo.ZoneInfo, recorded: Set[int]
) -> None:
    """When the scheduler next looks at the plan: the start of its first step not
    yet started, while it runs; never otherwise."""
    running = plan.status in RUNNING
    plan.next_step_at = next_due(planned, recorded, zone) if running else None


def reschedule_steps(uow: UnitOfWork, patient_id: uuid.UUID, zone: zoneinfo.ZoneInfo) -> None:
    """After the patient's time zone changes: each running plan's next step starts
    at midnight in the new zone."""
    for found, version in uow.tapers.under_way(patient_id):
        plan = uow.tapers.get(found.id, for_update=True)
        if plan is not None:
            recorded = {r.step_index for r in uow.tapers.records(plan.id)}
            schedule_next(plan, taper.TaperPlan.from_json(version.plan), zone, recorded)
