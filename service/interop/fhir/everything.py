"""FHIR `Patient/<id>/$everything`: the patient's record in one searchset Bundle: the
Patient, their MedicationRequests, MedicationAdministrations, DetectedIssues and, for
callers the audit use case lets read them (the care team), AuditEvents.

Each part is read by its resource module's `for_patient`, through the same use case
as that resource's search, so each keeps its access rule and its read audit: a caller
who may not read the patient is refused (404, audited) by the first of them, and a
patient, whom the audit use case refuses their own trail, gets the rest without it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, request

from service.interop.fhir import (
    administrations,
    audit_events,
    detected_issues,
    medication_requests,
    patients,
    search,
)
from service.interop.fhir.blueprint import bp
from service.interop.fhir.capabilities import declare
from service.interop.fhir.responses import resource, searchset
from service.usecases.errors import Forbidden
from service.web.bearer import require_auth

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Patient-everything"

declare("Patient", operations=[("everything", DEFINITION)])

# In the Bundle's order; the audit trail last, as only the care team reads it.
PARTS: tuple[Callable[[uuid.UUID], list[dict[str, Any]]], ...] = (
    patients.for_patient,
    medication_requests.for_patient,
    administrations.for_patient,
    detected_issues.for_patient,
)


def everything(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every resource of the patient's record this caller may read."""
    found = [r for part in PARTS for r in part(patient_id)]
    # The audit use case's own refusal (a patient reading their trail) leaves the
    # Bundle without it, as the patient reads the rest of the record.
    with contextlib.suppress(Forbidden):
        found.extend(audit_events.for_patient(patient_id))
    return found


@bp.get("/Patient/<uuid:patient_id>/$everything")
@require_auth
def patient_everything(patient_id: uuid.UUID) -> Response:
    """The whole record of one patient, in one searchset Bundle (not paged)."""
    search.allow(set())
    for name in ("_count", "_offset"):
        if name in request.args:
            raise search.refuse(name, f"$everything is served whole; {name} is not supported.")
    return resource(searchset(everything(patient_id)))
