"""GET /fhir/R4/metadata: the CapabilityStatement, built from what each resource's
module declared as it added its routes (service.interop.fhir.capabilities), so it
lists exactly what is served. Like other FHIR servers, it needs no token."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

from flask import Response

from service.interop.fhir import capabilities, responses, search
from service.interop.fhir.blueprint import bp
from service.interop.fhir.capabilities import ResourceCapability
from service.web.context import runtime

FHIR_VERSION = "4.0.1"
# One version number, the package's (pyproject.toml), as /livez gives it.
SOFTWARE_VERSION = version("medtrack")

SECURITY = (
    "Every interaction but this one needs a medtrack access token in the Authorization "
    "header (Authorization: Bearer <token>), the same token as the JSON API (/v1); "
    "SMART on FHIR and OAuth are not offered. A patient reads their own record, a "
    "clinician their care team's patients; any other record is answered 404, and "
    "refused reads are audited."
)


def _resource(cap: ResourceCapability) -> dict[str, Any]:
    out: dict[str, Any] = {"type": cap.type}
    if cap.profile:
        out["profile"] = cap.profile
    if cap.documentation:
        out["documentation"] = cap.documentation
    out["interaction"] = [{"code": code} for code in cap.interactions]
    if "vread" in cap.interactions:
        out["versioning"] = "versioned"
        out["readHistory"] = True
    else:
        out["versioning"] = "no-version"
    if cap.search_params:
        out["searchParam"] = [
            {"name": p.name, "type": p.type, "documentation": p.documentation}
            for p in cap.search_params
        ]
    if cap.operations:
        out["operation"] = [
            {"name": name.removeprefix("$"), "definition": definition}
            for name, definition in cap.operations
        ]
    return out


def capability_statement(base: str, date: str) -> dict[str, Any]:
    """The CapabilityStatement of this server at `base`."""
    rest: dict[str, Any] = {
        "mode": "server",
        "security": {"description": SECURITY},
        "resource": [_resource(cap) for cap in capabilities.RESOURCES.values()],
    }
    if capabilities.SYSTEM_INTERACTIONS:
        rest["interaction"] = [{"code": code} for code in capabilities.SYSTEM_INTERACTIONS]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": date,
        "publisher": "medtrack",
        "kind": "instance",
        "software": {"name": "medtrack", "version": SOFTWARE_VERSION},
        "implementation": {"description": "medtrack FHIR R4 API", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [rest],
    }


@bp.get("/metadata")
def metadata() -> Response:
    search.allow(())
    now = runtime().clock()
    return responses.resource(capability_statement(responses.base_url(), now.isoformat()))
