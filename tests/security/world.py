"""Shared setup for the OWASP API Top 10 tests: one patient with something of every kind,
the people around them, and helpers that look at the whole app at once."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Flask
from marshmallow import Schema
from sqlalchemy import text
from werkzeug.test import TestResponse

from service.db.uow import Database
from service.usecases.security import activation_code_hash
from tests.conftest import PASSWORD, Account, Builders, FrozenClock

ERROR_KEYS = {"code", "status", "message", "errors"}
NOW = dt.datetime(2026, 6, 10, 11, 0, tzinfo=dt.UTC)
FCM_TOKEN = "dAndroidFid0123456789_"
TAPER = {
    "start_dose_mg": 10,
    "algorithm": {"kind": "percent", "percent": 25},
    "floor_dose_mg": 2.5,
    "start_date": "2026-06-15",
}
# Tables a refused request must leave as they were.
WATCHED = (
    "users",
    "patients",
    "care_team_members",
    "prescriptions",
    "prescription_versions",
    "dose_events",
    "devices",
    "notifications",
    "taper_plans",
    "taper_plan_versions",
    "taper_symptom_reports",
)


@dataclass
class World:
    doc: Account  # registered the patient: on the care team
    patient: Account
    outsider: Account  # a clinician with a patient of their own
    other_patient: Account
    admin: Account
    rx_id: str
    dose_id: str
    plan_id: str
    device_id: str

    @property
    def patient_id(self) -> uuid.UUID:
        assert self.patient.patient_id is not None
        return self.patient.patient_id


def build_world(make: Builders, clock: FrozenClock) -> World:
    """A patient with a prescription, a planned dose, a draft taper plan and a device."""
    clock.now = NOW
    doc, outsider, admin = make.clinician(), make.clinician(), make.admin()
    patient = make.patient(doc)
    other_patient = make.patient(outsider)
    rx = make.prescription(doc, patient, start_date="2026-06-10")
    r = make.client.get(
        f"/v1/patients/{patient.patient_id}/doses",
        query_string={"from": "2026-06-10T00:00:00Z", "to": "2026-06-11T00:00:00Z"},
        headers=patient.headers,
    )
    assert r.status_code == 200, r.json
    (dose,) = r.json  # type: ignore[misc]
    r = make.client.post(
        f"/v1/patients/{patient.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json=TAPER,
        headers=doc.headers,
    )
    assert r.status_code == 201, r.json
    plan_id = r.json["id"]  # type: ignore[index]
    r = make.client.post(
        "/v1/me/devices", json={"platform": "fcm", "token": FCM_TOKEN}, headers=patient.headers
    )
    assert r.status_code == 201, r.json
    return World(
        doc=doc,
        patient=patient,
        outsider=outsider,
        other_patient=other_patient,
        admin=admin,
        rx_id=rx["id"],
        dose_id=dose["id"],
        plan_id=plan_id,
        device_id=r.json["id"],  # type: ignore[index]
    )


def snapshot(database: Database) -> dict[str, list[str]]:
    with database.engine.connect() as conn:
        return {
            t: sorted(repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {t}")))  # noqa: S608
            for t in WATCHED
        }


def assert_error(r: TestResponse, status: int) -> dict[str, Any]:
    """The one error shape with this status."""
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    body: dict[str, Any] = r.get_json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == status
    return body


# Entrypoints beside the JSON API, each with its own description and error shape: the
# console's pages take a session cookie (tests/console/test_console_routes.py); the FHIR
# API answers OperationOutcomes and is described by its CapabilityStatement, the CDS
# Hooks service by its discovery document (tests/interop/).
OTHER_ENTRYPOINTS = ("/console", "/fhir/", "/cds-services")


def routes(app: Flask) -> Iterator[tuple[str, str]]:
    """(method, rule) for every route of the JSON API and its docs, HEAD and OPTIONS
    aside."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(OTHER_ENTRYPOINTS):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, rule.rule


def argument_schemas(app: Flask) -> Iterator[tuple[str, str, str, Schema]]:
    """(method, rule, location, schema) for every schema a view parses its input with."""
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            handler = getattr(view_class, method.lower(), None)
            apidoc = getattr(handler, "_apidoc", {})
            for parameter in apidoc.get("arguments", {}).get("parameters", []):
                schema = parameter["schema"]
                yield (
                    method,
                    rule.rule,
                    parameter["in"],
                    schema() if isinstance(schema, type) else schema,
                )


def secrets_of_a_session(make: Builders) -> tuple[list[str], list[TestResponse]]:
    """Walk one patient's sign-up: the secrets it involves, and every response it got."""
    seen: list[TestResponse] = []
    doc = make.clinician()
    body = {
        "name": "Robin Secret",
        "email": "robin@example.org",
        "timezone": "Europe/London",
        "date_of_birth": "1980-02-29",
    }
    created = make.client.post("/v1/patients", json=body, headers=doc.headers)
    assert created.status_code == 202, created.json
    code = created.json["activation_code"]  # type: ignore[index]
    activated = make.client.post(
        "/v1/auth/activate", json={"activation_code": code, "password": PASSWORD}
    )
    assert activated.status_code == 200, activated.json
    login = make.client.post("/v1/auth/token", json={"email": body["email"], "password": PASSWORD})
    assert login.status_code == 200, login.json
    token = login.json["access_token"]  # type: ignore[index]
    headers = {"Authorization": f"Bearer {token}"}
    pid = activated.json["patient_id"]  # type: ignore[index]
    device = make.client.post(
        "/v1/me/devices", json={"platform": "fcm", "token": FCM_TOKEN}, headers=headers
    )
    assert device.status_code == 201, device.json
    seen += [activated, login, device]
    for url, who in (
        ("/v1/me", headers),
        ("/v1/me/devices", headers),
        (f"/v1/patients/{pid}", headers),
        ("/v1/patients", headers),
        (f"/v1/patients/{pid}", doc.headers),
        ("/v1/patients", doc.headers),
        (f"/v1/patients/{pid}/audit", doc.headers),
        (f"/v1/patients/{pid}/care-team", headers),
    ):
        r = make.client.get(url, headers=who)
        assert r.status_code == 200, (url, r.json)
        seen.append(r)
    secrets = [
        PASSWORD,
        code,
        code.replace("-", ""),
        activation_code_hash(code),
        token,
        token.rsplit(".", 1)[1],
        doc.headers["Authorization"].removeprefix("Bearer "),
    ]
    return secrets, seen


def response_schemas(app: Flask) -> Iterator[tuple[str, str, int, Schema]]:
    """(method, rule, status, schema) for every success response a view serialises."""
    for rule in app.url_map.iter_rules():
        view_class = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            apidoc = getattr(getattr(view_class, method.lower(), None), "_apidoc", {})
            for status, docs in apidoc.get("response", {}).get("responses", {}).items():
                for doc in docs:
                    schema = doc.get("schema") if isinstance(doc, dict) else None
                    if int(status) < 300 and schema is not None:
                        yield (
                            method,
                            rule.rule,
                            int(status),
                            schema() if isinstance(schema, type) else schema,
                        )
