"""The parts of the patient's record as clients see them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service.db.tables import PatientCondition, PatientFinding, ReportedProduct


@dataclass(frozen=True, kw_only=True)
class ConditionView:
    id: uuid.UUID
    code: str
    child_pugh: str | None
    egfr: Decimal | None
    note: str | None
    recorded_by: uuid.UUID
    recorded_at: dt.datetime
    ended_at: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class ProductView:
    id: uuid.UUID
    name: str
    drug_id: str | None
    drug_name: str | None
    ingredients: tuple[str, ...]
    how_often: str | None
    note: str | None
    reported_by: uuid.UUID
    reported_at: dt.datetime
    ended_at: dt.datetime | None
    findings: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, kw_only=True)
class FindingView:
    id: str
    kind: str
    severity: str
    detail: dict[str, Any]
    knowledge_base_version: str
    cause: str
    found_at: dt.datetime
    acknowledged_by: uuid.UUID | None
    acknowledged_at: dt.datetime | None
    acknowledged_reason: str | None
    # domain.findings.Answer's value; None while unanswered, or for an answer given
    # before the kind was recorded.
    acknowledged_as: str | None
    care_team_notified_at: dt.datetime | None


def condition_view(c: PatientCondition) -> ConditionView:
    return ConditionView(
        id=c.id,
        code=c.code,
        child_pugh=c.child_pugh,
        egfr=Decimal(c.egfr) if c.egfr is not None else None,
        note=c.note,
        recorded_by=c.recorded_by,
        recorded_at=c.recorded_at,
        ended_at=c.ended_at,
    )


def product_view(p: ReportedProduct, findings: tuple[dict[str, Any], ...] = ()) -> ProductView:
    return ProductView(
        id=p.id,
        name=p.text,
        drug_id=p.drug_id,
        drug_name=p.drug_name,
        ingredients=tuple(p.ingredients or ()),
        how_often=p.how_often,
        note=p.note,
        reported_by=p.reported_by,
        reported_at=p.reported_at,
        ended_at=p.ended_at,
        findings=findings,
    )


def finding_view(r: PatientFinding) -> FindingView:
    return FindingView(
        id=r.finding_id,
        kind=r.kind,
        severity=r.severity,
        detail=r.detail,
        knowledge_base_version=r.knowledge_base_version,
        cause=r.cause,
        found_at=r.found_at,
        acknowledged_by=r.acknowledged_by,
        acknowledged_at=r.acknowledged_at,
        acknowledged_reason=r.acknowledged_reason,
        acknowledged_as=r.acknowledged_as,
        care_team_notified_at=r.care_team_notified_at,
    )
