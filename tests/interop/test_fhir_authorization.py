"""The FHIR API's authorization matrix: every route under /fhir/R4 (but /metadata, which
needs no token) has a row, with the status for the patient themself, a clinician on
the care team and an admin, the same as /v1 gives for the same data; a call without a
token is 401 and a clinician outside the care team 404, both as OperationOutcomes, the
404 recorded in the patient's audit trail as on /v1; and a refused call writes nothing.
A route added without a row here fails `test_every_fhir_route_has_a_row`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.interop.fhir.blueprint import PREFIX
from tests.api.authz import WRITTEN_TABLES, World, build_world, snapshot
from tests.conftest import Builders

UNGUARDED = {f"{PREFIX}/metadata"}
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _medication_request(w: World) -> dict[str, Any]:
    """A new prescription as an EHR sends it (atorvastatin once a day, 08:00)."""
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "atorvastatin"},
        "subject": {"reference": f"Patient/{w.patient_id}"},
        "authoredOn": "2026-01-05",
        "dosageInstruction": [
            {
                "timing": {
                    "repeat": {
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "timeOfDay": ["08:00:00"],
                        "boundsPeriod": {"start": "2026-01-05"},
                    }
                },
                "route": {"text": "oral"},
                "doseAndRate": [{"doseQuantity": {"value": 20, "unit": "mg"}}],
            }
        ],
    }


def _transaction(w: World) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": _medication_request(w),
                "request": {"method": "POST", "url": "MedicationRequest"},
            }
        ],
    }


@dataclass(frozen=True)
class Row:
    method: str
    rule: str  # exactly as in app.url_map
    owner: int  # the patient themself
    clinician: int  # a clinician on the care team
    admin: int  # an administrator (as /v1 answers an admin for the same data)
    query: str = ""  # {patient} is the patient's id
    body: Callable[[World], dict[str, Any]] | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule.removeprefix(PREFIX)}"

    def path(self, w: World, dose_id: str) -> str:
        return (
            self.rule.replace("<uuid:patient_id>", str(w.patient_id))
            .replace("<uuid:dose_id>", dose_id)
            .replace("<uuid:rx_id>", w.rx_id)
            .replace("<vid>", "1")
        )

    def call(self, client: FlaskClient, w: World, dose_id: str, headers: dict[str, str]) -> Any:
        query = self.query.replace("{patient}", str(w.patient_id))
        return client.open(
            self.path(w, dose_id) + query,
            method=self.method,
            json=self.body(w) if self.body else None,
            headers={**headers, "Content-Type": "application/fhir+json"} if self.body else headers,
        )


P = f"{PREFIX}/Patient/<uuid:patient_id>"
RX = f"{PREFIX}/MedicationRequest/<uuid:rx_id>"
ROWS = [
    # /v1 GET /patients/{id}: the patient record, which admins read to manage teams.
    Row("GET", P, 200, 200, 200),
    Row("GET", f"{P}/$everything", 200, 200, 404),
    Row("GET", f"{PREFIX}/MedicationRequest", 200, 200, 404, query="?patient={patient}"),
    Row("GET", RX, 200, 200, 404),
    Row("GET", f"{RX}/_history", 200, 200, 404),
    Row("GET", f"{RX}/_history/<vid>", 200, 200, 404),
    Row("GET", f"{PREFIX}/MedicationAdministration", 200, 200, 404, query="?patient={patient}"),
    Row("GET", f"{PREFIX}/MedicationAdministration/<uuid:dose_id>", 200, 200, 404),
    Row("GET", f"{PREFIX}/DetectedIssue", 200, 200, 404, query="?patient={patient}"),
    # /v1: the audit trail is the care team's; a patient is refused their own (403).
    Row("GET", f"{PREFIX}/AuditEvent", 403, 200, 404, query="?patient={patient}"),
    # /v1: a patient may not prescribe (403), nor may an admin (404: no clinical access).
    Row("POST", f"{PREFIX}/MedicationRequest", 403, 201, 404, body=_medication_request),
    Row("POST", PREFIX, 403, 200, 404, body=_transaction),
]
ROW_IDS = [r.id for r in ROWS]


def _served(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule.rstrip("/") or rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX) and rule.rule.rstrip("/") not in UNGUARDED
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }


def test_every_fhir_route_has_a_row(app: Flask) -> None:
    rows = {(r.method, r.rule) for r in ROWS}
    missing = _served(app) - rows
    assert not missing, f"FHIR routes without a row in the matrix: {sorted(missing)}"


def test_every_row_is_a_route(app: Flask) -> None:
    stale = {(r.method, r.rule) for r in ROWS} - _served(app)
    assert not stale, f"rows for routes that are not served: {sorted(stale)}"


@pytest.fixture
def world(make: Builders, database: Any) -> World:
    return build_world(make, database)


@pytest.fixture
def dose_id(client: FlaskClient, world: World) -> str:
    """A dose of the log: an as-needed dose the patient took."""
    w = world
    r = client.post(
        f"/v1/patients/{w.patient_id}/prescriptions/{w.prn_rx_id}/prn-doses",
        json={},
        headers=w.patient.headers,
    )
    assert r.status_code == 201, r.json
    return str(r.json["id"])  # type: ignore[index]


def _outcome(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    body: dict[str, Any] = r.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"], body
    return body


def _served_rows(app: Flask) -> list[Row]:
    served = _served(app)
    return [r for r in ROWS if (r.method, r.rule) in served]


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_the_matrix(row: Row, app: Flask, client: FlaskClient, world: World, dose_id: str) -> None:
    if row not in _served_rows(app):
        pytest.fail(f"{row.id} is not served (test_every_row_is_a_route)")
    w = world
    r = row.call(client, w, dose_id, {})
    _outcome(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    _refused_and_audited(row, client, w, dose_id)
    for who, headers, expected in (
        ("admin", w.admin.headers, row.admin),
        ("patient", w.patient.headers, row.owner),
        ("clinician on the care team", w.team.headers, row.clinician),
    ):
        before = snapshot(w.database) if expected >= 400 else None
        r = row.call(client, w, dose_id, headers)
        if expected >= 400:
            _outcome(r, expected)
            assert snapshot(w.database) == before, f"a refused {row.id} ({who}) wrote"
        else:
            assert r.status_code == expected, (who, r.status_code, r.get_json())
            assert r.headers["Content-Type"].startswith("application/fhir+json")


def _refused_and_audited(row: Row, client: FlaskClient, w: World, dose_id: str) -> None:
    """A clinician outside the care team: 404, nothing written but the refusal, which
    the patient's audit trail records as /v1 does."""
    before = {t: snapshot(w.database)[t] for t in WRITTEN_TABLES}
    r = row.call(client, w, dose_id, w.outsider.headers)
    _outcome(r, 404)
    assert {t: snapshot(w.database)[t] for t in WRITTEN_TABLES} == before
    trail = client.get(f"/v1/patients/{w.patient_id}/audit", headers=w.team.headers).json
    assert trail is not None
    refused = [
        e
        for e in trail
        if e["subtype"] == "access.denied"
        and e["outcome_desc"] == f"404 {row.method} {row.path(w, dose_id)}"
        and e["agent"]["who"] == str(w.outsider.id)
    ]
    assert len(refused) == 1, [e for e in trail if e["subtype"] == "access.denied"]
