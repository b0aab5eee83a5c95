"""FHIR Patient: who a medtrack patient is, read through the same use case as
GET /v1/patients/<id> (so the same access rule, the same read audit, and an
administrator sees no clinical fields: no birthDate)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from service.interop.fhir import capabilities, extensions, responses, search
from service.interop.fhir.blueprint import AGENT, bp
from service.usecases import patients
from service.usecases.patient_records import PatientRecord
from service.web.bearer import require_auth
from service.web.context import ctx

# The patient's IANA time zone: the zone of the wall times in their dosage
# instructions' timing.repeat.timeOfDay.
TIMEZONE_EXTENSION = extensions.structure("patient-timezone")

capabilities.declare(
    "Patient",
    interactions=["read"],
    documentation=(
        "A medtrack patient: name, e-mail, birth date (not shown to administrators), "
        "preferred language, and the time zone of their dose times as an extension."
    ),
)


def resource_of(rec: PatientRecord) -> dict[str, Any]:
    """The patient as a FHIR Patient. medtrack records no gender, so none is given."""
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(rec.id),
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": rec.timezone}],
        "identifier": [
            {
                "use": "usual",
                "system": extensions.identifier_system("patient"),
                "value": str(rec.id),
            }
        ],
        "name": [{"text": rec.name}],
        "telecom": [{"system": "email", "value": rec.email}],
        "communication": [
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": rec.locale}]},
                "preferred": True,
            }
        ],
    }
    if rec.date_of_birth is not None:
        body["birthDate"] = rec.date_of_birth.isoformat()
    return body


def read(patient_id: uuid.UUID) -> dict[str, Any]:
    """The patient, for the caller of this request (404 for anyone who may not read them)."""
    return resource_of(patients.get_patient(**ctx(AGENT).args(), patient_id=patient_id))


def for_patient(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The Patient in the patient's $everything."""
    return [read(patient_id)]


@bp.get("/Patient/<uuid:patient_id>")
@require_auth
def get_patient(patient_id: uuid.UUID) -> Response:
    search.allow(())
    return responses.resource(read(patient_id))
