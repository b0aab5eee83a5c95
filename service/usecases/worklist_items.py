"""The worklist's items, one kind at a time, from the rows the worklist's queries
read (service/db/worklist.py): what each item says, how urgent it is, and where it
is acted on. `service/usecases/worklist.py` gathers and orders them."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo
from dataclasses import dataclass

from service.db.worklist import DoseRow, EnrolmentRow, FindingRow, PlanRow, ReportRow
from service.domain import taper
from service.domain.accounts import EnrolmentStatus, enrolment_status
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import plain_amount
from service.domain.severity import Severity
from service.domain.taper.changes import due_at
from service.domain.taper.symptoms import reading, scale_named

UTC_ZONE = "UTC"


class ItemKind(enum.StrEnum):
    """What an item is about; the first part of its key."""

    FINDING = "finding"
    DOSE = "dose"
    SYMPTOM = "symptom"
    DRAFT = "draft"
    STEP = "step"
    ACTIVATION = "activation"


class Page(enum.StrEnum):
    """Where an item is acted on."""

    CHART = "chart"
    TAPER_PLAN = "taper_plan"
    PATIENTS = "patients"


class Band(enum.StrEnum):
    HIGH = "high"
    MID = "mid"
    LOW = "low"


# How urgent each item is, 0 the most. A red flag asks for a call to the patient now
# (docs/clinical.md, "Taper planner", withdrawal self-reports), as a contraindicated
# finding asks for the regimen to change; a major finding or a proposed hold asks
# for a decision soon; a missed or skipped dose of a withdrawal-risk drug for a
# check on the patient; the rest are the clinician's own follow-ups.
RED_FLAG_RANK = 0
RANK_OF_SEVERITY = {Severity.CONTRAINDICATED: 0, Severity.MAJOR: 1}
HOLD_RANK = 1
DOSE_RANK = 2
DRAFT_RANK = 3
STEP_RANK = 4
ACTIVATION_RANK = 4


def band_of(rank: int) -> Band:
    if rank <= 1:
        return Band.HIGH
    return Band.MID if rank == DOSE_RANK else Band.LOW


@dataclass(frozen=True, kw_only=True)
class Target:
    """The page an item is acted on, and whose."""

    page: Page
    patient_id: uuid.UUID | None = None
    plan_id: uuid.UUID | None = None
    # The part of the page (a chart's section) the item is about.
    section: str | None = None


@dataclass(frozen=True, kw_only=True)
class WorkItem:
    key: str
    kind: ItemKind
    rank: int
    when: dt.datetime
    # None for an enrolment not yet accepted: the clinician has no record to open.
    patient_id: uuid.UUID | None
    # The patient's name; for an enrolment, the e-mail the clinician entered.
    patient_name: str
    # The zone `when` is shown in: the patient's.
    timezone: str
    title: str
    detail: str
    target: Target

    @property
    def band(self) -> Band:
        return band_of(self.rank)


def drug_name(kb: KnowledgeBase, drug_id: str) -> str:
    found = kb.catalog.drugs.get(drug_id)
    return found.name if found is not None else drug_id


def finding_item(row: FindingRow) -> WorkItem:
    """A contraindicated or major finding of the record's screening, not yet
    acknowledged (service/usecases/rescreening.py tells the care team of it)."""
    drugs = " and ".join(d["resolved"] for d in row.detail.get("drugs", ()))
    about = row.detail.get("condition") or row.detail.get("allergy")
    return WorkItem(
        key=f"{ItemKind.FINDING}:{row.id}",
        kind=ItemKind.FINDING,
        rank=RANK_OF_SEVERITY[Severity(row.severity)],
        when=row.found_at,
        patient_id=row.patient_id,
        patient_name=row.name,
        timezone=row.timezone,
        title=f"New {row.severity} finding: {drugs}" + (f" ({about})" if about else ""),
        detail=str(row.detail.get("effect") or row.kind),
        target=Target(page=Page.CHART, patient_id=row.patient_id, section="findings"),
    )


def dose_item(row: DoseRow) -> WorkItem:
    """A dose of a withdrawal-risk drug missed or skipped (an open dose past the
    missed mark counts as missed, as the chart shows it)."""
    skipped = row.status == DoseStatus.SKIPPED
    amount = f"{plain_amount(row.dose_amount)} {row.dose_unit}"
    why = f" Reason given: {row.skip_reason}" if skipped and row.skip_reason else ""
    return WorkItem(
        key=f"{ItemKind.DOSE}:{row.id}",
        kind=ItemKind.DOSE,
        rank=DOSE_RANK,
        when=row.scheduled_at,
        patient_id=row.patient_id,
        patient_name=row.name,
        timezone=row.timezone,
        title=f"{'Skipped' if skipped else 'Missed'} dose: {row.drug} {amount}",
        detail=f"Stopping {row.drug} abruptly risks withdrawal.{why}",
        target=Target(page=Page.CHART, patient_id=row.patient_id, section="this-week"),
    )


def symptom_item(row: ReportRow, kb: KnowledgeBase) -> WorkItem | None:
    """A withdrawal self-report with a red flag, or one that proposed a hold; None
    for any other report."""
    scale = scale_named(row.scale)
    flags = reading(scale, row.items).red_flags if scale is not None else ()
    if not flags and not row.hold_proposed:
        return None
    drug = drug_name(kb, row.drug)
    scored = f"{row.total} (threshold {row.threshold}) at step {row.step_index}"
    if flags:
        assert scale is not None
        labels = "; ".join(i.label for f in flags if (i := scale.item(f)) is not None)
        title, detail = f"Red flag in a symptom report: {drug} taper", f"{labels}. Score {scored}."
    else:
        title = f"Hold proposed: {drug} taper"
        detail = f"Symptom score {scored}. Consider holding the current dose."
    return WorkItem(
        key=f"{ItemKind.SYMPTOM}:{row.id}",
        kind=ItemKind.SYMPTOM,
        rank=RED_FLAG_RANK if flags else HOLD_RANK,
        when=row.reported_at,
        patient_id=row.patient_id,
        patient_name=row.name,
        timezone=row.timezone,
        title=title,
        detail=detail,
        target=Target(
            page=Page.TAPER_PLAN, patient_id=row.patient_id, plan_id=row.plan_id, section="symptoms"
        ),
    )


def draft_item(row: PlanRow, kb: KnowledgeBase, now: dt.datetime) -> WorkItem:
    """A drafted taper plan waiting for a clinician's approval."""
    planned = taper.TaperPlan.from_json(row.plan)
    first = planned.steps[0].start_date
    today = now.astimezone(zoneinfo.ZoneInfo(row.timezone)).date()
    to_confirm = len(planned.steps_to_approve) + len(planned.approvals)
    detail = f"{len(planned.steps)} steps over {planned.total_days} days from {first.isoformat()}."
    if to_confirm:
        detail += f" {to_confirm} to confirm on approval."
    if first < today:
        detail += " Its start date has passed: draft it again."
    return WorkItem(
        key=f"{ItemKind.DRAFT}:{row.id}",
        kind=ItemKind.DRAFT,
        rank=DRAFT_RANK,
        when=row.created_at,
        patient_id=row.patient_id,
        patient_name=row.name,
        timezone=row.timezone,
        title=f"Taper plan waiting for approval: {drug_name(kb, row.drug)}",
        detail=detail,
        target=Target(
            page=Page.TAPER_PLAN, patient_id=row.patient_id, plan_id=row.id, section="approve"
        ),
    )


def step_items(
    row: PlanRow, kb: KnowledgeBase, *, after: dt.datetime, until: dt.datetime
) -> list[WorkItem]:
    """The steps of a running plan that start in (after, until]: each starts at
    midnight on its date in the patient's zone, as the scheduler starts it."""
    planned = taper.TaperPlan.from_json(row.plan)
    zone = zoneinfo.ZoneInfo(row.timezone)
    drug = drug_name(kb, row.drug)
    items = []
    for step in planned.steps:
        starts = due_at(step, zone)
        if not after < starts <= until:
            continue
        dose = f"{plain_amount(step.daily_dose_mg)} mg a day"
        what = " starts" if step.index == 0 else f": step {step.index} starts"
        cut = f", a cut of {step.cut_pct}%" if step.index > 0 else ""
        items.append(
            WorkItem(
                key=f"{ItemKind.STEP}:{row.id}:{step.index}",
                kind=ItemKind.STEP,
                rank=STEP_RANK,
                when=starts,
                patient_id=row.patient_id,
                patient_name=row.name,
                timezone=row.timezone,
                title=f"{drug.capitalize()} taper{what} on {step.start_date.isoformat()}",
                detail=f"{dose}{cut}." if step.daily_dose_mg else "The last step: the dose stops.",
                target=Target(page=Page.TAPER_PLAN, patient_id=row.patient_id, plan_id=row.id),
            )
        )
    return items


def activation_item(row: EnrolmentRow, now: dt.datetime, *, after: dt.timedelta) -> WorkItem:
    """The clinician's enrolment that no one has said yes to. It reads the same
    whether the e-mail was new or already had an account (service/usecases/
    enrolment.py): the e-mail the clinician entered, never a name."""
    status = enrolment_status(accepted_at=None, expires_at=row.expires_at, now=now)
    code = (
        "The activation code has expired; register the patient again for a new one."
        if status is EnrolmentStatus.EXPIRED
        else "The activation code has not been used yet."
    )
    return WorkItem(
        key=f"{ItemKind.ACTIVATION}:{row.id}",
        kind=ItemKind.ACTIVATION,
        rank=ACTIVATION_RANK,
        when=row.created_at,
        patient_id=None,
        patient_name=row.email,
        timezone=UTC_ZONE,
        title=f"Not activated {after.total_seconds() / 3600:.0f} hours after registration",
        detail=code,
        target=Target(page=Page.PATIENTS),
    )
