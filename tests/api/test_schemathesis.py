"""schemathesis over the whole OpenAPI spec, in-process against the Flask app.

Every operation is fuzzed twice: as a clinician on a patient's care team and as
that patient. Half of the generated path parameters are swapped for the ids of
the patient, their prescription and their clinician, so that requests reach
real rows rather than only 404; half the cases of the two creates send a valid
body so that 201 responses are checked too. Every response must be a non-5xx
that the spec documents (status code, content type and body schema).

The schema is loaded once at import, from an app without a database, and each
test sends its cases to the `app` fixture (its own database): the lazy
`schemathesis.pytest.from_fixture` loader fails under pytest 9.2 (it sets
`Function._nodeid`, which pytest no longer has).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service import create_app
from service.config import Settings
from service.db.tables import AuthToken
from service.db.uow import Database
from service.domain.accounts import Role
from tests.conftest import Account, Builders, prescription_body

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class Fuzzed:
    clinician: Account
    patient: Account
    rx_id: str
    app: Flask
    database: Database

    def real_ids(self) -> dict[str, str]:
        return {
            "patient_id": str(self.patient.patient_id),
            "rx_id": self.rx_id,
            "clinician_id": str(self.clinician.id),
        }

    def fresh_headers(self, account: Account, role: Role) -> dict[str, str]:
        """A new token for `account`, issued directly (the fuzzed login may be throttled)."""
        services = self.app.extensions["medtrack"]
        now = services.clock()
        token, jti, expires = services.tokens.issue(
            user_id=account.id, role=role, patient_id=account.patient_id, now=now
        )
        with self.database.uow() as uow:
            uow.tokens.add(
                AuthToken(jti=jti, user_id=account.id, issued_at=now, expires_at=expires)
            )
            uow.commit()
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def fuzzed(app: Flask, make: Builders, database: Database) -> Fuzzed:
    doc = make.clinician()
    pat = make.patient(doc, allergies=["penicillin"])
    rx = make.prescription(doc, pat)
    world = Fuzzed(clinician=doc, patient=pat, rx_id=rx["id"], app=app, database=database)
    REAL_IDS.clear()
    REAL_IDS.update(world.real_ids())
    return world


# The spec as the app serves it; each test sends its cases to its own app and database.
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", create_app(Settings(env="test", database_url="sqlite://"))
)
SETTINGS = hypothesis.settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
    database=None,
)


# The ids of the current test's world, for the hook below (tests run one at a time).
REAL_IDS: dict[str, str] = {}


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Half the cases reach the patient, their prescription and clinician, not only 404s."""
    if not path_parameters or not REAL_IDS:
        return st.just(path_parameters)
    real = {k: REAL_IDS.get(k, v) for k, v in path_parameters.items()}
    return st.sampled_from([path_parameters, real])


def _valid_bodies(method: str, path: str) -> st.SearchStrategy[dict[str, Any]] | None:
    """Well-formed bodies for the creates that random data almost never gets right."""
    if (method, path) == ("POST", "/v1/patients"):
        return st.uuids().map(
            lambda u: {
                "name": "Fuzz Patient",
                "email": f"fuzz-{u}@example.org",
                "timezone": "Europe/London",
                "date_of_birth": "1980-02-29",
                "allergies": ["penicillin"],
            }
        )
    if (method, path) == ("POST", "/v1/patients/{patient_id}/prescriptions"):
        twice_daily = {**prescription_body()["schedule"], "times": ["08:00", "20:00"]}
        return st.sampled_from(
            [
                prescription_body(),
                prescription_body(
                    drug="diazepam", dose={"amount": 2.5, "unit": "mg"}, schedule=twice_daily
                ),
            ]
        )
    return None


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """Half the cases of those creates send a valid body, so 201 responses are checked too."""
    op = context.operation
    valid = _valid_bodies(op.method.upper(), op.path) if REAL_IDS else None
    return st.just(body) if valid is None else st.one_of(st.just(body), valid)


def _call(case: Any, fuzzed: Fuzzed, account: Account, role: Role) -> None:
    if case.path == "/v1/auth/logout":
        headers = fuzzed.fresh_headers(account, role)  # keep the shared token alive
    else:
        headers = account.headers
    case.call_and_validate(app=fuzzed.app, headers=headers, checks=CHECKS)


@schema.parametrize()
@SETTINGS
def test_api_as_care_team_clinician(case: Any, fuzzed: Fuzzed) -> None:
    _call(case, fuzzed, fuzzed.clinician, Role.CLINICIAN)


@schema.parametrize()
@SETTINGS
def test_api_as_the_patient(case: Any, fuzzed: Fuzzed) -> None:
    _call(case, fuzzed, fuzzed.patient, Role.PATIENT)


def test_real_ids_are_reachable(client: FlaskClient, fuzzed: Fuzzed) -> None:
    """The ids the hook substitutes name rows the fuzzing callers can read."""
    ids = fuzzed.real_ids()
    base = f"/v1/patients/{ids['patient_id']}"
    for account in (fuzzed.clinician, fuzzed.patient):
        assert client.get(base, headers=account.headers).status_code == 200
        r = client.get(f"{base}/prescriptions/{ids['rx_id']}", headers=account.headers)
        assert r.status_code == 200
    assert uuid.UUID(ids["clinician_id"]) in {
        uuid.UUID(c)
        for c in client.get(base, headers=fuzzed.clinician.headers).json["care_team"]  # type: ignore[index]
    }
