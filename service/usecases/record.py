"""The rest of the patient's record the checks read: coded conditions (set by the
care team), products the patient takes without a prescription (recorded by the
patient or the care team), and the findings of the record's latest screening
(docs/clinical.md, "Conditions" and "Re-screening of the whole record"). Every
change is audited and re-screens the record; nothing is deleted (conditions and
products are ended)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from service.db.tables import PatientCondition, PatientFinding, ReportedProduct
from service.db.uow import UnitOfWork
from service.domain.accounts import Role
from service.domain.audit import AuditAction
from service.domain.catalog import Resolved
from service.domain.conditions import Condition, validate_condition
from service.domain.errors import Problems
from service.domain.interactions import KnowledgeBase
from service.domain.severity import Severity
from service.usecases.access import PatientContext, load_readable_patient, load_writable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden, NotFound, UnresolvedDrug, domain_rules
from service.usecases.interactions import resolve_name
from service.usecases.prescribing import check_name
from service.usecases.rescreening import rescreen
from service.usecases.screening import suggestion_json

T = TypeVar("T")


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
    care_team_notified_at: dt.datetime | None


def _condition_view(c: PatientCondition) -> ConditionView:
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


def _product_view(p: ReportedProduct, findings: tuple[dict[str, Any], ...] = ()) -> ProductView:
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
        care_team_notified_at=r.care_team_notified_at,
    )


def _audit(
    uow: UnitOfWork,
    caller: Caller,
    now: dt.datetime,
    *,
    subtype: str,
    entity: str,
    entity_id: uuid.UUID,
    patient_id: uuid.UUID,
    before: Any = None,
    after: Any = None,
) -> None:
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE if before is not None else AuditAction.CREATE,
        subtype=subtype,
        entity_type=entity,
        entity_id=entity_id,
        patient_id=patient_id,
        before=before,
        after=after,
    )


# --- conditions --------------------------------------------------------------------------


def list_conditions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int = 50,
    offset: int = 0,
) -> list[ConditionView]:
    rows = _read(
        uow,
        caller,
        clock,
        patient_id,
        "condition.list",
        "PatientCondition",
        lambda u: u.record.conditions(patient_id),
    )
    return [_condition_view(c) for c in rows[offset : offset + limit]]


def _read(
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    subtype: str,
    entity_type: str,
    load: Callable[[UnitOfWork], list[T]],
) -> list[T]:
    """The rows of one part of the record, for whoever may read it; the read is audited."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rows = load(uow)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype=subtype,
            entity_type=entity_type,
            patient_id=patient_id,
        )
        return rows


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
                _end_condition(uow, caller, now, old, by=by, reason="Replaced by a new entry.")
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
        view = _condition_view(row)
        _audit(
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


def _end_condition(
    uow: UnitOfWork,
    caller: Caller,
    now: dt.datetime,
    row: PatientCondition,
    *,
    by: uuid.UUID,
    reason: str,
) -> None:
    before = _condition_view(row)
    row.ended_at, row.ended_by, row.ended_reason = now, by, reason
    uow.record.touch([row])
    _audit(
        uow,
        caller,
        now,
        subtype="condition.end",
        entity="PatientCondition",
        entity_id=row.id,
        patient_id=row.patient_id,
        before=before,
        after=_condition_view(row),
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
        _end_condition(uow, caller, now, row, by=caller.require().user_id, reason=reason)
        rescreen(uow, kb, caller=caller, patient=ctx.patient, now=now, cause="condition.end")
        uow.commit()
        return _condition_view(row)


# --- products the patient reports --------------------------------------------------------


def _writable_by_patient_or_team(
    uow: UnitOfWork, caller: Caller, patient_id: uuid.UUID
) -> PatientContext:
    """The patient themself, or a clinician on the care team."""
    ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
    who = caller.require()
    if who.role is Role.PATIENT:
        return ctx
    if who.role is Role.ADMIN:
        raise Forbidden("Administrators do not edit clinical records.")
    return load_writable_patient(uow, caller=caller, patient_id=patient_id)


def list_products(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int = 50,
    offset: int = 0,
) -> list[ProductView]:
    rows = _read(
        uow,
        caller,
        clock,
        patient_id,
        "reported-product.list",
        "ReportedProduct",
        lambda u: u.record.products(patient_id),
    )
    return [_product_view(p) for p in rows[offset : offset + limit]]


def _resolve_product(
    uow: UnitOfWork, kb: KnowledgeBase, name: str, confirm: bool
) -> Resolved | None:
    check_name(name, field="name")
    found = resolve_name(uow, kb, name)
    if isinstance(found, Resolved):
        return found
    if confirm:
        return None
    raise UnresolvedDrug(
        "The product is not in the catalog.",
        errors={
            "name": [
                f"{name!r} is not in the catalog, so it cannot be checked. Pick one of the "
                "suggestions, or send confirm_unlisted: true to record it by name."
            ]
        },
        suggestions=[suggestion_json(s) for s in found.suggestions],
    )


def add_product(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    name: str,
    how_often: str | None,
    note: str | None,
    confirm_unlisted: bool = False,
) -> ProductView:
    """Record something the patient takes on their own; it is screened against the
    regimen, the conditions and the other products like a prescription, and one that
    interacts at major or above reaches the care team."""
    now = clock()
    with uow:
        ctx = _writable_by_patient_or_team(uow, caller, patient_id)
        uow.record.serialise(patient_id)
        found = _resolve_product(uow, kb, name.strip(), confirm_unlisted)
        row = ReportedProduct(
            patient_id=patient_id,
            text=name.strip(),
            drug_id=found.entry_id if found else None,
            drug_name=found.name if found else None,
            ingredients=list(found.ingredients) if found else None,
            how_often=how_often,
            note=note,
            reported_by=caller.require().user_id,
            reported_at=now,
        )
        uow.record.add(row)
        _audit(
            uow,
            caller,
            now,
            subtype="reported-product.create",
            entity="ReportedProduct",
            entity_id=row.id,
            patient_id=patient_id,
            after=_product_view(row),
        )
        rescreen(
            uow, kb, caller=caller, patient=ctx.patient, now=now, cause="reported-product.create"
        )
        mine = str(row.id)
        findings = tuple(
            r.detail
            for r in uow.record.open_findings(patient_id)
            if any(d.get("reported_product_id") == mine for d in r.detail.get("drugs", ()))
        )
        uow.commit()
        return _product_view(row, findings)


def end_product(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    product_id: uuid.UUID,
) -> ProductView:
    now = clock()
    with uow:
        ctx = _writable_by_patient_or_team(uow, caller, patient_id)
        uow.record.serialise(patient_id)
        row = uow.record.product(patient_id, product_id)
        if row is None:
            raise NotFound(f"No reported product {product_id} for this patient.")
        if row.ended_at is not None:
            raise Conflict("This product is already recorded as stopped.")
        before = _product_view(row)
        row.ended_at, row.ended_by = now, caller.require().user_id
        uow.record.touch([row])
        _audit(
            uow,
            caller,
            now,
            subtype="reported-product.end",
            entity="ReportedProduct",
            entity_id=row.id,
            patient_id=patient_id,
            before=before,
            after=_product_view(row),
        )
        rescreen(uow, kb, caller=caller, patient=ctx.patient, now=now, cause="reported-product.end")
        uow.commit()
        return _product_view(row)


# --- findings --------------------------------------------------------------------------------


def list_findings(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    limit: int = 50,
    offset: int = 0,
) -> list[FindingView]:
    """The findings the latest screening of the whole record holds, most severe first."""
    rows = _read(
        uow,
        caller,
        clock,
        patient_id,
        "finding.list",
        "PatientFinding",
        lambda u: u.record.open_findings(patient_id),
    )
    views = sorted((finding_view(r) for r in rows), key=_severity_order)
    return views[offset : offset + limit]


def _severity_order(v: FindingView) -> tuple[int, str, str]:
    return (Severity(v.severity).rank, v.kind, v.id)


def acknowledge_finding(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    finding_id: str,
    reason: str,
) -> FindingView:
    """A clinician on the care team has read the finding and says why the regimen
    stands (audited)."""
    now = clock()
    with uow:
        load_writable_patient(uow, caller=caller, patient_id=patient_id)
        row = next(
            (
                r
                for r in uow.record.open_findings(patient_id, for_update=True)
                if r.finding_id == finding_id
            ),
            None,
        )
        if row is None:
            raise NotFound(f"No current finding {finding_id} for this patient.")
        if row.acknowledged_at is not None:
            raise Conflict("This finding has already been acknowledged.")
        before = finding_view(row)
        row.acknowledged_by = caller.require().user_id
        row.acknowledged_at = now
        row.acknowledged_reason = reason
        uow.record.touch([row])
        after = finding_view(row)
        _audit(
            uow,
            caller,
            now,
            subtype="finding.acknowledge",
            entity="PatientFinding",
            entity_id=row.id,
            patient_id=patient_id,
            before={k: v for k, v in vars(before).items() if k != "detail"},
            after={k: v for k, v in vars(after).items() if k != "detail"},
        )
        uow.commit()
        return after
