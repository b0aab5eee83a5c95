"""`Patient/<id>/$everything` on the demo patient (the issue's acceptance): Alex takes
escitalopram and diazepam, and the diazepam taper the demo drafts is approved by his
clinician through /v1; the Bundle validates with the R4B models of `fhir.resources`,
each entry too, and carries the taper as one dosageInstruction per step. Then SMART's
`fhirclient` reads the same Bundle over real HTTP and parses it with its own models."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskClient

from service.db.uow import Database
from service.usecases import demo
from service.usecases.security import Passwords
from service.usecases.sessions import LoginPolicy
from tests.api.test_taper_plans import approval
from tests.conftest import FrozenClock

FHIR = "/fhir/R4"
LOGINS = LoginPolicy(
    max_failures=5,
    client_max_failures=50,
    max_delay_seconds=900,
    refresh_ttl=dt.timedelta(days=30),
    reset_ttl=dt.timedelta(hours=24),
)


@dataclass
class Demo:
    alex: uuid.UUID
    alex_headers: dict[str, str]
    doc_headers: dict[str, str]
    plan: dict[str, Any]  # the taper plan as approved


def _sign_in(client: FlaskClient, email: str, password: str) -> dict[str, str]:
    r = client.post("/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['access_token']}"}  # type: ignore[index]


@pytest.fixture
def alex(app: Flask, client: FlaskClient, database: Database, clock: FrozenClock) -> Demo:
    """The demo seeded, and Alex's drafted diazepam taper approved by Dr Rivera."""
    demo.seed(
        uow=database.uow,
        clock=clock,
        passwords=Passwords(time_cost=1, memory_kib=1024),
        policy=LOGINS,
        kb=app.extensions["medtrack"].knowledge,
    )
    doc = _sign_in(client, demo.CLINICIAN[0], demo.CLINICIAN[1])
    email, password = demo.PATIENTS[0][:2]
    mine = _sign_in(client, email, password)
    me = client.get("/v1/me", headers=mine).json
    assert me is not None
    alex_id = uuid.UUID(me["patient_id"])
    plans = client.get(f"/v1/patients/{alex_id}/taper-plans", headers=doc).json
    assert plans is not None
    (draft,) = [p for p in plans if p["status"] == "draft"]
    plan = client.get(f"/v1/taper-plans/{draft['id']}", headers=doc).json
    assert plan is not None
    r = client.post(f"/v1/taper-plans/{draft['id']}/approve", json=approval(plan), headers=doc)
    assert r.status_code == 200, r.json
    return Demo(alex_id, mine, doc, r.json)  # type: ignore[arg-type]


def _validated(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The Bundle and each entry validated with R4B; the resources by type."""
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in body.get("entry", ()):
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert entry["fullUrl"].endswith(f"{resource['resourceType']}/{resource['id']}")
        by_type.setdefault(resource["resourceType"], []).append(resource)
    return by_type


def _everything(client: FlaskClient, patient: uuid.UUID, headers: dict[str, str]) -> Any:
    return client.get(f"{FHIR}/Patient/{patient}/$everything", headers=headers)


def _text(concept: dict[str, Any]) -> str:
    return str(concept.get("text", "")).lower()


def test_alex_s_everything_validates_and_carries_the_taper(client: FlaskClient, alex: Demo) -> None:
    r = _everything(client, alex.alex, alex.doc_headers)
    assert r.status_code == 200, r.get_json()
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    found = _validated(r.get_json())
    ((patient,),) = [found["Patient"]]
    assert patient["id"] == str(alex.alex)
    requests = {_text(m["medicationCodeableConcept"]): m for m in found["MedicationRequest"]}
    assert {"escitalopram", "diazepam"} <= set(requests), sorted(requests)
    taper = requests["diazepam"]["dosageInstruction"]
    steps = alex.plan["steps"]
    # One sequence number per step, in order (a step whose times take different
    # amounts has one dosage per amount, concurrent under the same number, as FHIR
    # reads equal sequences), each bounded by its step's dates.
    sequences = [d["sequence"] for d in taper]
    assert sequences == sorted(sequences)
    assert list(dict.fromkeys(sequences)) == list(range(1, len(steps) + 1))
    assert len(steps) > 1
    bounds = {d["sequence"]: d["timing"]["repeat"]["boundsPeriod"] for d in taper}
    assert all(d["timing"]["repeat"]["boundsPeriod"] == bounds[d["sequence"]] for d in taper)
    assert [bounds[k] for k in sorted(bounds)] == [
        {"start": step["start_date"], "end": step["end_date"]} for step in steps
    ]
    # The dose log: taken, the first diazepam dose skipped with Alex's words, one missed.
    given = found["MedicationAdministration"]
    assert {a["status"] for a in given} == {"completed", "not-done"}
    reasons = [a["statusReason"][0] for a in given if a["status"] == "not-done"]
    assert {c["coding"][0]["code"] for c in reasons} == {"skipped", "missed"}
    assert demo.SKIP_REASON in [c.get("text") for c in reasons]
    # Alcohol with diazepam: a major finding nobody has acknowledged.
    issues = found["DetectedIssue"]
    assert any(
        i["severity"] == "high" and not i.get("mitigation") and "diazepam" in str(i["implicated"])
        for i in issues
    ), issues
    assert found["AuditEvent"], "the care team reads the audit trail"
    # Every reference to a MedicationRequest resolves inside the Bundle.
    served = {f"MedicationRequest/{m['id']}" for m in found["MedicationRequest"]}
    named = {a["request"]["reference"] for a in given} | {
        x["reference"] for i in issues for x in i.get("implicated", ()) if "reference" in x
    }
    assert named, "administrations and findings name their MedicationRequests"
    assert named <= served, named - served


def test_the_patient_gets_everything_but_the_audit_trail(client: FlaskClient, alex: Demo) -> None:
    r = _everything(client, alex.alex, alex.alex_headers)
    assert r.status_code == 200, r.get_json()
    found = _validated(r.get_json())
    assert "AuditEvent" not in found
    assert {"Patient", "MedicationRequest", "MedicationAdministration", "DetectedIssue"} <= set(
        found
    )


def test_everything_is_served_whole(client: FlaskClient, alex: Demo) -> None:
    for query in ({"_count": "10"}, {"_offset": "1"}, {"_since": "2026-01-01"}):
        r = client.get(
            f"{FHIR}/Patient/{alex.alex}/$everything", query_string=query, headers=alex.doc_headers
        )
        assert r.status_code == 400, query
        (name,) = query
        assert r.get_json()["issue"][-1]["expression"] == [f"query.{name}"]


def test_the_operation_is_declared(client: FlaskClient) -> None:
    r = client.get(f"{FHIR}/metadata")
    assert r.status_code == 200
    (server,) = r.get_json()["rest"]
    (patient,) = [x for x in server["resource"] if x["type"] == "Patient"]
    assert {
        "name": "everything",
        "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
    } in [{k: op[k] for k in ("name", "definition")} for op in patient.get("operation", ())]


def test_fhirclient_reads_everything_over_http(base_url: str, alex: Demo) -> None:
    """SMART's client, pointed at the API with the bearer token on its session (the
    server offers no SMART launch, so the client's own auth stays unused)."""
    from fhirclient import client as smart  # type: ignore[import-untyped]
    from fhirclient.models.bundle import Bundle as ClientBundle  # type: ignore[import-untyped]
    from fhirclient.models.medicationrequest import MedicationRequest  # type: ignore[import-untyped]
    from fhirclient.models.patient import Patient  # type: ignore[import-untyped]

    fhir = smart.FHIRClient(settings={"app_id": "medtrack-tests", "api_base": base_url + FHIR})
    fhir.server.session.headers["Authorization"] = alex.doc_headers["Authorization"]
    bundle = ClientBundle(fhir.server.request_json(f"Patient/{alex.alex}/$everything"))
    assert bundle.type == "searchset"
    resources = [e.resource for e in bundle.entry or ()]
    assert any(isinstance(r, Patient) and r.id == str(alex.alex) for r in resources)
    diazepam = [
        r
        for r in resources
        if isinstance(r, MedicationRequest)
        and "diazepam" in (r.medicationCodeableConcept.text or "").lower()
    ]
    assert diazepam
    sequences = {d.sequence for d in diazepam[0].dosageInstruction}
    assert sequences == set(range(1, len(alex.plan["steps"]) + 1))
    # And a read of one resource through the client's model.
    read = Patient.read(str(alex.alex), fhir.server)
    assert read.id == str(alex.alex)
