"""A MedicationRequest's versions: `_history` (a history Bundle, newest first) and
`_history/<n>` (vread). Every change of a prescription is a version; the taper
plan in progress and the dispenseRequest stand in the version in force (the newest)
only, as they do in a read, so that reading the newest version gives what a read
gives."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import Response

from service.interop.fhir import responses, search
from service.interop.fhir.blueprint import AGENT, bp
from service.interop.fhir.medication_requests import (
    catalog_of,
    names_of,
    plan_of,
    resource_of,
    supply_of,
)
from service.usecases.prescriptions import reading
from service.web.bearer import require_auth
from service.web.context import ctx


def _versions(rx_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every version of the prescription as a MedicationRequest, newest first."""
    args = ctx(AGENT).args()
    patient_id = reading.patient_of_prescription(
        uow=args["uow"], caller=args["caller"], rx_id=rx_id
    )
    records = list(reading.list_versions(**ctx(AGENT).args(), patient_id=patient_id, rx_id=rx_id))
    records.reverse()
    if not records:
        return []
    plan, names, catalog = plan_of(records[0]), names_of(patient_id), catalog_of()
    supply = supply_of(patient_id, records[:1]).get(records[0].id)
    newest = records[0].version
    return [
        resource_of(
            r,
            catalog=catalog,
            plan=plan if r.version == newest else None,
            names=names,
            supply=supply if r.version == newest else None,
        )
        for r in records
    ]


def _entry(base: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A history entry: the version, and the interaction that made it (the first a
    create, each later one an update)."""
    url = f"MedicationRequest/{body['id']}"
    first = body["meta"]["versionId"] == "1"
    return {
        "fullUrl": f"{base}/{url}",
        "resource": dict(body),
        "request": {
            "method": "POST" if first else "PUT",
            "url": "MedicationRequest" if first else url,
        },
        "response": {
            "status": "201 Created" if first else "200 OK",
            "etag": f'W/"{body["meta"]["versionId"]}"',
            "lastModified": body["meta"]["lastUpdated"],
        },
    }


@bp.get("/MedicationRequest/<uuid:rx_id>/_history")
@require_auth
def history(rx_id: uuid.UUID) -> Response:
    search.allow(())
    limit, offset = search.paging()
    versions = _versions(rx_id)
    base = responses.base_url()
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "history",
        "total": len(versions),
        "link": [{"relation": "self", "url": f"{base}/MedicationRequest/{rx_id}/_history"}],
        "entry": [_entry(base, v) for v in versions[offset : offset + limit]],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    return responses.resource(bundle)


@bp.get("/MedicationRequest/<uuid:rx_id>/_history/<vid>")
@require_auth
def vread(rx_id: uuid.UUID, vid: str) -> Response:
    search.allow(())
    for body in _versions(rx_id):
        if body["meta"]["versionId"] == vid:
            return responses.resource(body, ETag=f'W/"{vid}"')
    return responses.failure(404, f"MedicationRequest/{rx_id} has no version {vid!r}.")
