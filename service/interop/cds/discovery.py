"""CDS Hooks discovery (`GET /cds-services`, no token): the medication-safety service,
listed once per hook it answers. CDS Hooks 2.0 gives each service entry one `hook`
and lets a server list "multiple entries of CDS service with the same id for
different hooks", so order-select and order-sign share the id and its endpoint."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.typing import ResponseReturnValue

from service.interop.cds.blueprint import bp
from service.interop.cds.requests import HOOKS

SERVICE_ID = "medtrack-medication-safety"
PREFETCH = {
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    "patient": "Patient/{{context.patientId}}",
}
TITLE = "medtrack medication safety"
DESCRIPTION = {
    "order-select": (
        "Checks selected medication orders against each other and the patient's current "
        "medications (prefetched, or medtrack's record of a linked patient): interactions, "
        "duplicate therapy, allergies, conditions and age; and warns when an order stops a "
        "drug that must be tapered."
    ),
    "order-sign": (
        "Checks medication orders about to be signed, as on selection: interactions, "
        "duplicate therapy, allergies, conditions and age, and stops of drugs that must be "
        "tapered."
    ),
}
USAGE = (
    "Calls carry a JWT signed by a client listed in medtrack's MEDTRACK_CDS_CLIENTS. "
    "A patient is read from medtrack's record when linked by an identifier."
)


def services() -> list[dict[str, Any]]:
    return [
        {
            "hook": hook,
            "title": TITLE,
            "description": DESCRIPTION[hook],
            "id": SERVICE_ID,
            "prefetch": dict(PREFETCH),
            "usageRequirements": USAGE,
        }
        for hook in HOOKS
    ]


@bp.get("")
def discovery() -> ResponseReturnValue:
    """The services this server hosts; open to any caller, as the specification's
    discovery is what a client reads before it is configured."""
    return jsonify({"services": services()})
