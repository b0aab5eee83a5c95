"""The abrupt-stop guard as every use case that changes a prescription applies it
(docs/clinical.md, "The abrupt-stop guard"): the rule is the domain's
`service.domain.abrupt_stop`; this module turns its answer into a refusal with a
finding, or into the override stored on the version and audited."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from service.db.tables import Prescription, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.abrupt_stop import AbruptStop, suggested_taper
from service.domain.audit import AuditAction
from service.domain.interactions import Kind, KnowledgeBase
from service.domain.severity import Severity
from service.usecases.audit import record
from service.usecases.context import Caller
from service.usecases.errors import InteractionConflict
from service.usecases.interactions import knowledge_base_version
from service.usecases.screening import describe

PREVIEW_ENDPOINT = "/v1/taper-plans/preview"
# How grave stopping a withdrawal-risk drug at once is: what /v1 refuses unless the
# prescriber gives a reason, and what an EHR's order entry shows as critical.
SEVERITY = Severity.CONTRAINDICATED

SOURCES = (
    "fda-2020-benzodiazepine-boxed-warning",
    "asam-2025-benzodiazepine-tapering",
    "fda-label",
)


def _finding(
    kb: KnowledgeBase, v: PrescriptionVersion, stop: AbruptStop, today: dt.date
) -> dict[str, Any]:
    ingredients = tuple(v.ingredients or ())
    risky = kb.catalog.withdrawal_risks(ingredients)
    digest = hashlib.sha256(f"{v.prescription_id}|{v.version}|{stop.kind}".encode())
    drug = risky[0].id
    return {
        "id": "A" + digest.hexdigest()[:15],
        "kind": Kind.ABRUPT_STOP.value,
        "severity": SEVERITY.value,
        "drugs": [
            {
                "input": v.drug,
                "resolved": v.drug_name or kb.catalog.display_name(v.drug_id or drug),
                "ingredients": list(ingredients),
                "prescription_id": str(v.prescription_id),
                "taper": None,
            }
        ],
        "rule": f"abrupt-stop:{stop.kind.value}",
        "rules": [f"abrupt-stop:{stop.kind.value}"],
        "classes": sorted({c for d in risky for c in d.own_classes}),
        "mechanism": stop.summary,
        "effect": " ".join(f"{d.name}: {d.withdrawal_risk}" for d in risky),
        "management": (
            f"Plan a taper: POST {PREVIEW_ENDPOINT} with the settings in taper_preview, "
            "then store and approve it on this prescription; or send abrupt_stop_reason to "
            "make this change now (stored on the version and audited)."
        ),
        "sources": [describe(kb, s) for s in SOURCES],
        "allergy": None,
        "condition": None,
        "taper_preview": {
            "endpoint": PREVIEW_ENDPOINT,
            "settings": suggested_taper(v.terms(), drug, today + dt.timedelta(days=1)),
        },
    }


def guard(
    uow: UnitOfWork,
    kb: KnowledgeBase,
    *,
    current: PrescriptionVersion,
    stop: AbruptStop | None,
    reason: str | None,
    today: dt.date,
) -> str | None:
    """None when the change stops nothing that needs a taper; the override reason when
    the clinician gave one; else a refusal (409) carrying an `abrupt-stop` finding."""
    risky = kb.catalog.withdrawal_risks(current.ingredients or ())
    if stop is None or not risky:
        return None
    given = (reason or "").strip()
    if given:
        return given
    names = ", ".join(d.name for d in risky)
    drug = (
        current.drug if names.casefold() == current.drug.casefold() else f"{current.drug} ({names})"
    )
    raise InteractionConflict(
        f"{drug} should not be stopped or cut abruptly: {stop.summary} Plan a taper, "
        "or give abrupt_stop_reason to make this change now.",
        findings=[_finding(kb, current, stop, today)],
        knowledge_base_version=knowledge_base_version(uow, kb),
        errors={
            "abrupt_stop_reason": [
                "Required to stop or sharply cut a withdrawal-risk drug without a taper."
            ]
        },
    )


def audit_override(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    current: PrescriptionVersion,
    stop: AbruptStop,
    reason: str,
) -> None:
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype="prescription.abrupt-stop-override",
        entity_type="Prescription",
        entity_id=rx.id,
        patient_id=rx.patient_id,
        after={
            "drug": current.drug,
            "change": stop.kind.value,
            "summary": stop.summary,
            "abrupt_stop_reason": reason,
            "version": rx.current_version,
        },
    )
