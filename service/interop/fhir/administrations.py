"""FHIR MedicationAdministration: the patient's dose log, one resource per dose with an
outcome, read through the same access rules and read audit as the JSON API's dose list
(service/usecases/dose_outcomes.py).

- taken: `completed`, `effectiveDateTime` when the patient took it;
- skipped: `not-done`, `statusReason` coded `skipped` (code system `dose-outcome`) with
  the patient's reason as its text;
- missed (never logged, or past the missed mark): `not-done`, `statusReason` coded
  `missed`; `effectiveDateTime` is when it was due.
Planned doses are not administrations and are not served.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from service.domain.doses import DoseStatus
from service.interop.coding import medication_concept
from service.interop.fhir import search
from service.interop.fhir.blueprint import AGENT, bp
from service.interop.fhir.capabilities import SearchParam, declare
from service.interop.fhir.extensions import code_system, structure
from service.interop.fhir.responses import resource, searchset
from service.usecases.dose_outcomes import list_dose_outcomes, read_dose_outcome
from service.usecases.dose_views import DoseView
from service.web.bearer import require_auth
from service.web.context import RequestContext, ctx

DOSE_OUTCOME = code_system("dose-outcome")
SCHEDULED_AT = structure("dose-scheduled-at")
UCUM = "http://unitsofmeasure.org"
# Dose units that are UCUM units as they are written, and their UCUM code.
_UCUM_CODES = {"mg": "mg", "g": "g", "mcg": "ug", "ug": "ug", "ml": "mL", "mL": "mL"}
_OUTCOMES = {
    DoseStatus.SKIPPED: "Skipped: the patient logged the dose as not taken",
    DoseStatus.MISSED: "Missed: not logged as taken or skipped within its window",
}

declare(
    "MedicationAdministration",
    interactions=["read", "search-type"],
    search_params=[
        SearchParam("patient", "reference", "The patient whose doses (required)."),
        SearchParam(
            "effective-time",
            "date",
            "When the dose was taken (taken) or due (skipped, missed); ge, gt, le, lt, eq.",
        ),
    ],
    documentation="The dose log: doses taken, skipped or missed; planned doses are not listed.",
)


def _quantity(view: DoseView) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": float(view.dose_amount), "unit": view.dose_unit}
    code = _UCUM_CODES.get(view.dose_unit)
    if code is not None:
        quantity.update(system=UCUM, code=code)
    return quantity


def administration(c: RequestContext, patient_id: uuid.UUID, view: DoseView) -> dict[str, Any]:
    """One dose with an outcome as a MedicationAdministration."""
    found = c.kb.catalog.resolve(view.drug)
    taken = view.status == DoseStatus.TAKEN
    when = view.taken_at if taken and view.taken_at is not None else view.scheduled_at
    body: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": str(view.id),
        "status": "completed" if taken else "not-done",
        "medicationCodeableConcept": medication_concept(
            c.kb.catalog, found.entry_id if found else None, view.drug
        ),
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when.isoformat(),
        "request": {"reference": f"MedicationRequest/{view.prescription_id}"},
        "dosage": {"dose": _quantity(view)},
    }
    if not view.prn:
        body["extension"] = [{"url": SCHEDULED_AT, "valueDateTime": view.scheduled_at.isoformat()}]
    if not taken:
        reason: dict[str, Any] = {
            "coding": [
                {
                    "system": DOSE_OUTCOME,
                    "code": view.status,
                    "display": _OUTCOMES[DoseStatus(view.status)],
                }
            ]
        }
        if view.status == DoseStatus.SKIPPED and view.skip_reason:
            reason["text"] = view.skip_reason
        body["statusReason"] = [reason]
    return body


def _read(
    c: RequestContext, patient_id: uuid.UUID, window: search.Window, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    page = list_dose_outcomes(
        **c.args(),
        policy=c.reminders,
        patient_id=patient_id,
        start=window.start,
        end=window.end,
        limit=limit,
        offset=offset,
    )
    return [administration(c, patient_id, v) for v in page], page.total


def for_patient(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The resources of this type in the patient's $everything, read through the
    same use cases (and so the same access rules and read audit) as the search."""
    c = ctx(AGENT)
    return search.every_page(
        lambda limit, offset: _read(c, patient_id, search.Window(), limit, offset)
    )


@bp.get("/MedicationAdministration")
@require_auth
def search_administrations() -> Response:
    """`MedicationAdministration?patient=<id>[&effective-time=ge..]`, oldest first."""
    search.allow({"patient", "effective-time"})
    patient_id = search.reference_id("patient", "Patient")
    assert patient_id is not None
    window = search.window("effective-time")
    limit, offset = search.paging()
    found, total = _read(ctx(AGENT), patient_id, window, limit, offset)
    return resource(searchset(found, total=total, links=search.page_links(offset, limit, total)))


@bp.get("/MedicationAdministration/<uuid:dose_id>")
@require_auth
def read_administration(dose_id: uuid.UUID) -> Response:
    """One dose of the log; a planned dose is not an administration (404)."""
    search.allow(set())
    c = ctx(AGENT)
    patient_id, view = read_dose_outcome(**c.args(), policy=c.reminders, dose_id=dose_id)
    return resource(administration(c, patient_id, view))
