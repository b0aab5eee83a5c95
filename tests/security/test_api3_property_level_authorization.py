"""API3 Broken Object Property Level Authorization: mass assignment and excessive data
exposure.

In: every schema a view parses refuses fields it does not declare (422), so nobody
sets a role, a care team, an owner or a status through a body; of the fields it does
declare, a patient may change only their name and time zone (403 for the rest:
tests/api/test_authorization_scoping.py and the matrix's PATCH row). Out: response
schemas declare no credential, and a whole session's responses carry none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from marshmallow import fields

from service.db.uow import Database
from tests.conftest import PASSWORD, Account, Builders, FrozenClock, prescription_body
from tests.security.world import (
    FCM_TOKEN,
    World,
    argument_schemas,
    assert_error,
    build_world,
    response_schemas,
    secrets_of_a_session,
    snapshot,
)

# Attributes of stored rows that no request may set.
SMUGGLED = {
    "role": "admin",
    "user_id": "00000000-0000-0000-0000-000000000001",
    "care_team": ["00000000-0000-0000-0000-000000000002"],
    "is_active": True,
    "activated": True,
    "password_hash": "$argon2id$x",
    "patient_id": "00000000-0000-0000-0000-000000000003",
    "status": "active",
    "version": 99,
    "created_by": "00000000-0000-0000-0000-000000000004",
}
# Field names that must never appear in a response (TokenSchema's access_token is the
# one credential a response carries: it is what login is for).
NEVER_SHOWN = re.compile(r"password|hash|secret|jti|^keys$|^token$|p256dh|^auth$")


def _walk(schema: ma.Schema, path: str) -> Iterator[tuple[str, ma.Schema]]:
    yield path, schema
    for name, field in schema.fields.items():
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            yield from _walk(inner.schema, f"{path}.{field.data_key or name}")


def test_every_input_schema_refuses_unknown_fields(app: Flask) -> None:
    lenient = [
        f"{method} {rule} {location}{path}"
        for method, rule, location, schema in argument_schemas(app)
        for path, nested in _walk(schema, "")
        if nested.unknown != ma.RAISE
    ]
    assert lenient == []


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


def _bodies(w: World) -> list[tuple[str, str, Account, dict[str, Any]]]:
    pid = w.patient_id
    rx = f"/v1/patients/{pid}/prescriptions"
    return [
        ("PATCH", f"/v1/patients/{pid}", w.patient, {"name": "Me"}),
        ("PATCH", f"/v1/patients/{pid}", w.doc, {"name": "Them"}),
        ("POST", "/v1/me/devices", w.patient, {"platform": "fcm", "token": "other-token"}),
        ("POST", f"{rx}", w.doc, prescription_body(drug="ibuprofen")),
        ("PATCH", f"{rx}/{w.rx_id}", w.doc, {"instructions": "after food", "reason": "x"}),
        ("POST", f"/v1/taper-plans/{w.plan_id}/cancel", w.doc, {"reason": "x"}),
        ("POST", f"/v1/doses/{w.dose_id}/taken", w.patient, {}),
        ("POST", "/v1/users", w.admin, {"role": "clinician", "email": "n@example.org",
                                        "password": "long enough password", "name": "N"}),
        ("POST", f"/v1/patients/{pid}/care-team", w.admin, {"clinician_id": str(w.outsider.id)}),
    ]  # fmt: skip


@pytest.mark.parametrize("field", sorted(SMUGGLED))
def test_no_body_sets_a_field_it_does_not_declare(
    make: Builders, world: World, database: Database, field: str
) -> None:
    before = snapshot(database)
    for method, path, who, body in _bodies(world):
        extra = {**body, field: SMUGGLED[field]}
        if field in body:
            continue
        r = make.client.open(path, method=method, json=extra, headers=who.headers)
        errors = assert_error(r, 422)["errors"]
        assert field in errors, (method, path, errors)
    assert snapshot(database) == before


def test_without_the_extra_field_the_same_bodies_are_accepted(make: Builders, world: World) -> None:
    """Control: the 422s above come from the smuggled field alone."""
    for method, path, who, body in _bodies(world):
        r = make.client.open(path, method=method, json=body, headers=who.headers)
        assert r.status_code < 300, (method, path, r.json)


@pytest.mark.parametrize(
    "field",
    ["email", "date_of_birth", "allergies", "pregnant"],
)
def test_a_patient_cannot_set_identity_or_clinical_fields_of_their_record(
    make: Builders, world: World, database: Database, field: str
) -> None:
    value: Any = {
        "email": "new@example.org",
        "date_of_birth": "1999-09-09",
        "allergies": [],
        "pregnant": True,
    }[field]
    before = snapshot(database)
    r = make.client.patch(
        f"/v1/patients/{world.patient_id}", json={field: value}, headers=world.patient.headers
    )
    assert set(assert_error(r, 403)["errors"]) == {field}
    assert snapshot(database) == before


def test_no_response_schema_declares_a_credential(app: Flask) -> None:
    shown = {
        f"{method} {rule} {status}{path}.{field.data_key or name}"
        for method, rule, status, schema in response_schemas(app)
        for path, nested in _walk(schema, "")
        for name, field in nested.fields.items()
        if not field.load_only
    }
    assert "POST /v1/auth/token 200.access_token" in shown  # the walk reaches every schema
    assert [s for s in shown if NEVER_SHOWN.search(s.rsplit(".", 1)[1])] == []


def test_a_whole_session_shows_no_credential_but_the_callers_own_token(
    make: Builders,
) -> None:
    secrets, responses = secrets_of_a_session(make)
    token = secrets[4]
    for r in responses:
        raw = r.get_data(as_text=True)
        shown = [s for s in [*secrets, FCM_TOKEN, "$argon2"] if s in raw]
        if r.request.path == "/v1/auth/token":
            assert shown == [token, token.rsplit(".", 1)[1]]
        else:
            assert shown == [], (r.request.path, shown)


def test_the_activation_code_is_shown_once(make: Builders, world: World) -> None:
    body = {
        "name": "Lee",
        "email": "lee@example.org",
        "timezone": "Europe/London",
        "date_of_birth": "1990-01-01",
    }
    created = make.client.post("/v1/patients", json=body, headers=world.doc.headers).json
    code = created["activation_code"]  # type: ignore[index]
    activated = make.client.post(
        "/v1/auth/activate", json={"activation_code": code, "password": PASSWORD}
    ).json
    patient_id = activated["patient_id"]  # type: ignore[index]
    for path in (f"/v1/patients/{patient_id}", "/v1/patients", "/v1/me/enrolments"):
        r = make.client.get(path, headers=world.doc.headers)
        assert r.status_code == 200
        assert code not in r.get_data(as_text=True)
        assert "activation_code" not in r.get_data(as_text=True)
