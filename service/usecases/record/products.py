"""Products the patient takes without a prescription, recorded by the patient or the
care team, and screened like a prescription. A product is never deleted: it is
recorded as stopped."""

from __future__ import annotations

import uuid

from service.db.tables import ReportedProduct
from service.db.uow import UnitOfWork
from service.domain.accounts import Role
from service.domain.catalog import Resolved
from service.domain.interactions import KnowledgeBase
from service.domain.pages import Page, sliced
from service.usecases.access import PatientContext, load_readable_patient, load_writable_patient
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden, NotFound, UnresolvedDrug
from service.usecases.interactions import resolve_name
from service.usecases.patient_words import findings_for
from service.usecases.prescribing import check_name
from service.usecases.record.parts import audit_change, read_part
from service.usecases.record.views import ProductView, product_view
from service.usecases.rescreening import rescreen
from service.usecases.screening import suggestion_json


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
) -> Page[ProductView]:
    rows = read_part(
        uow,
        caller,
        clock,
        patient_id,
        "reported-product.list",
        "ReportedProduct",
        lambda u: u.record.products(patient_id),
    )
    return sliced(rows, limit=limit, offset=offset).map(product_view)


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
        audit_change(
            uow,
            caller,
            now,
            subtype="reported-product.create",
            entity="ReportedProduct",
            entity_id=row.id,
            patient_id=patient_id,
            after=product_view(row),
        )
        rescreen(
            uow, kb, caller=caller, patient=ctx.patient, now=now, cause="reported-product.create"
        )
        findings = findings_for(
            caller.require(),
            (r.detail for r in uow.record.findings_naming(patient_id, row.id)),
            locale=ctx.patient.locale,
        )
        uow.commit()
        return product_view(row, findings)


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
        before = product_view(row)
        row.ended_at, row.ended_by = now, caller.require().user_id
        uow.record.touch([row])
        audit_change(
            uow,
            caller,
            now,
            subtype="reported-product.end",
            entity="ReportedProduct",
            entity_id=row.id,
            patient_id=patient_id,
            before=before,
            after=product_view(row),
        )
        rescreen(uow, kb, caller=caller, patient=ctx.patient, now=now, cause="reported-product.end")
        uow.commit()
        return product_view(row)
