"""FHIR AuditEvent: the patient's audit trail for the care team, through the same use
case as the JSON API's (service/usecases/audit.py, list_patient_audit), so the same
rule holds: the care team reads it, a patient does not read their own (403), anyone
else gets 404; and the read is itself audited.

Each entry: `type` (what was touched: medtrack code system `audit-event-type`) and
`subtype` (the change, `audit-subtype`, e.g. `prescription.create`), `action`
(C/R/U/D/E as stored), `recorded`, `outcome` (0/4/8/12) with its description, one
agent (the user by medtrack identifier, their role, requestor, the network address),
the source (medtrack, an application server) and the entities (the patient, and the
object by its medtrack identifier, a prescription as its MedicationRequest).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from service.interop.fhir import search
from service.interop.fhir.blueprint import AGENT, bp
from service.interop.fhir.capabilities import SearchParam, declare
from service.interop.fhir.extensions import code_system, identifier_system
from service.usecases.audit import AuditEntry, list_patient_audit
from service.web.bearer import require_auth
from service.web.context import ctx

EVENT_TYPE = code_system("audit-event-type")
SUBTYPE = code_system("audit-subtype")
USER = identifier_system("user")
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
# medtrack's records that this API serves, and the resource each is served as.
_SERVED_AS = {"Prescription": "MedicationRequest", "Patient": "Patient"}

declare(
    "AuditEvent",
    interactions=["search-type"],
    search_params=[
        SearchParam("patient", "reference", "The patient whose audit trail (required).")
    ],
    documentation="The patient's audit trail, for the care team; oldest first.",
)


def _agent(entry: AuditEntry) -> dict[str, Any]:
    role = entry.actor_role or "unknown"
    agent: dict[str, Any] = {"role": [{"text": role}], "requestor": True}
    if entry.actor_id is not None:
        agent["who"] = {"identifier": {"system": USER, "value": str(entry.actor_id)}}
    else:
        agent["who"] = {"display": f"medtrack ({role})"}
    if entry.source_ip:
        agent["network"] = {"address": entry.source_ip, "type": "2"}
    return agent


def _entities(entry: AuditEntry, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    patient = {
        "what": {"reference": f"Patient/{patient_id}"},
        "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
    }
    if entry.entity_type == "Patient" or entry.entity_id is None:
        return [patient]
    served = _SERVED_AS.get(entry.entity_type)
    what: dict[str, Any] = (
        {"reference": f"{served}/{entry.entity_id}"}
        if served
        else {
            "identifier": {"system": identifier_system(entry.entity_type), "value": entry.entity_id}
        }
    )
    what["display"] = entry.entity_type
    obj = {"what": what, "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"}}
    return [patient, obj]


def audit_event(patient_id: uuid.UUID, entry: AuditEntry) -> dict[str, Any]:
    """One audit entry as an AuditEvent."""
    body: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(entry.id),
        "type": {"system": EVENT_TYPE, "code": entry.entity_type},
        "subtype": [{"system": SUBTYPE, "code": entry.subtype}],
        "action": entry.action,
        "recorded": entry.recorded.isoformat(),
        "outcome": entry.outcome,
        "agent": [_agent(entry)],
        "source": {
            "observer": {"display": "medtrack"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(entry, patient_id),
    }
    if entry.outcome_desc:
        body["outcomeDesc"] = entry.outcome_desc
    return body


def _read(patient_id: uuid.UUID, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    page = list_patient_audit(
        **ctx(AGENT).args(), patient_id=patient_id, limit=limit, offset=offset
    )
    return [audit_event(patient_id, e) for e in page], page.total


def for_patient(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The resources of this type in the patient's $everything, read through the
    same use cases (and so the same access rules and read audit) as the search."""
    return search.every_page(lambda limit, offset: _read(patient_id, limit, offset))


@bp.get("/AuditEvent")
@require_auth
def search_audit_events() -> Response:
    """`AuditEvent?patient=<id>`: the patient's audit trail, oldest first."""
    return search.by_patient(_read)
