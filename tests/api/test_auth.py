"""Accounts and auth over the API: tokens, /v1/me, expiry, logout and patient activation.

Login throttling lives in test_auth_rate_limit.py.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.config import Settings
from tests.conftest import PASSWORD, Builders, FrozenClock

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(r: TestResponse, status: int) -> dict[str, Any]:
    """The one error shape, with the expected status."""
    assert r.status_code == status, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == status
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


def login(client: FlaskClient, email: str, password: str) -> TestResponse:
    return client.post("/v1/auth/token", json={"email": email, "password": password})


def bearer(r: TestResponse) -> dict[str, str]:
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


def new_patient(make: Builders) -> dict[str, Any]:
    """A patient registered by a clinician but not yet activated."""
    doc = make.clinician()
    slug = uuid.uuid4().hex[:8]
    body = {
        "name": f"Pat {slug}",
        "email": f"pat-{slug}@example.org",
        "timezone": "Europe/London",
        "date_of_birth": "1980-02-29",
    }
    r = make.client.post("/v1/patients", json=body, headers=doc.headers)
    assert r.status_code == 202, r.get_json()
    data: dict[str, Any] = r.get_json()
    return data


def activate(client: FlaskClient, code: str, password: str = PASSWORD) -> TestResponse:
    return client.post("/v1/auth/activate", json={"activation_code": code, "password": password})


# --- tokens -------------------------------------------------------------------------


def test_login_returns_a_bearer_token(make: Builders, settings: Settings) -> None:
    doc = make.clinician()
    r = login(make.client, doc.email, doc.password)
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_expires_in",
    }
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.token_ttl_seconds
    assert isinstance(body["access_token"], str)
    assert len(body["access_token"]) > 20
    assert make.client.get("/v1/me", headers=bearer(r)).status_code == 200


def test_login_email_is_case_insensitive(make: Builders) -> None:
    doc = make.clinician()
    assert login(make.client, doc.email.upper(), doc.password).status_code == 200


def test_wrong_password_and_unknown_email_look_the_same(make: Builders) -> None:
    doc = make.clinician()
    wrong = assert_error(login(make.client, doc.email, doc.password + "x"), 401)
    unknown = assert_error(login(make.client, "nobody-here@example.org", doc.password), 401)
    assert wrong["message"] == unknown["message"]
    assert wrong["errors"] == unknown["errors"]


def test_me_for_staff(make: Builders) -> None:
    doc = make.clinician()
    r = make.client.get("/v1/me", headers=doc.headers)
    assert r.status_code == 200
    me = r.get_json()
    assert me["id"] == str(doc.id)
    assert me["email"] == doc.email
    assert me["role"] == "clinician"
    assert me["patient_id"] is None
    assert "password" not in me
    assert "password_hash" not in me


def test_me_for_patient_carries_patient_id(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.get("/v1/me", headers=pat.headers)
    assert r.status_code == 200
    me = r.get_json()
    assert me["id"] == str(pat.id)
    assert me["role"] == "patient"
    assert me["patient_id"] == str(pat.patient_id)


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
)
def test_me_without_a_valid_token_is_401(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    r = client.get("/v1/me", headers=headers)
    assert_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_expires_after_its_lifetime(
    make: Builders, clock: FrozenClock, settings: Settings
) -> None:
    doc = make.clinician()
    clock.advance(seconds=settings.token_ttl_seconds - 1)
    assert make.client.get("/v1/me", headers=doc.headers).status_code == 200
    clock.advance(seconds=2)
    assert_error(make.client.get("/v1/me", headers=doc.headers), 401)


def test_logout_revokes_the_token(make: Builders) -> None:
    doc = make.clinician()
    other = bearer(login(make.client, doc.email, doc.password))
    r = make.client.post("/v1/auth/logout", headers=doc.headers)
    assert r.status_code == 204
    assert r.get_data() == b""
    assert_error(make.client.get("/v1/me", headers=doc.headers), 401)
    assert_error(make.client.post("/v1/auth/logout", headers=doc.headers), 401)
    # Only that token: a second session of the same user lives on.
    assert make.client.get("/v1/me", headers=other).status_code == 200


def test_a_token_used_before_is_refused_once_revoked(make: Builders) -> None:
    # The token has been verified (and its signature check remembered) before the
    # logout; revocation is still read from the database on every request.
    doc = make.clinician()
    for _ in range(2):
        assert make.client.get("/v1/me", headers=doc.headers).status_code == 200
    assert make.client.post("/v1/auth/logout", headers=doc.headers).status_code == 204
    assert_error(make.client.get("/v1/me", headers=doc.headers), 401)


def test_token_signed_with_another_key_is_refused(make: Builders, settings: Settings) -> None:
    doc = make.clinician()
    token = doc.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    assert forged != token
    r = make.client.get("/v1/me", headers={"Authorization": f"Bearer {forged}"})
    assert_error(r, 401)


# --- activation ---------------------------------------------------------------------


def test_activation_sets_the_password_and_the_patient_logs_in(make: Builders) -> None:
    data = new_patient(make)
    assert data["status"] == "pending"
    r = activate(make.client, data["activation_code"])
    assert r.status_code == 200, r.get_json()
    me = r.get_json()
    assert me["role"] == "patient"
    assert me["patient_id"]
    assert me["email"] == data["email"]
    t = login(make.client, data["email"], PASSWORD)
    assert t.status_code == 200
    r = make.client.get("/v1/me", headers=bearer(t))
    assert r.get_json()["patient_id"] == me["patient_id"]


def test_activation_code_works_once(make: Builders) -> None:
    data = new_patient(make)
    assert activate(make.client, data["activation_code"]).status_code == 200
    body = assert_error(activate(make.client, data["activation_code"], "another password 1"), 422)
    assert "activation_code" in body["errors"]
    # The second attempt changed nothing: the first password still works.
    assert login(make.client, data["email"], PASSWORD).status_code == 200
    assert_error(login(make.client, data["email"], "another password 1"), 401)


def test_activation_code_expires(make: Builders, clock: FrozenClock, settings: Settings) -> None:
    data = new_patient(make)
    clock.advance(seconds=settings.activation_ttl.total_seconds() + 1)
    body = assert_error(activate(make.client, data["activation_code"]), 422)
    assert "activation_code" in body["errors"]
    assert_error(login(make.client, data["email"], PASSWORD), 401)


def test_activation_code_is_valid_until_it_expires(
    make: Builders, clock: FrozenClock, settings: Settings
) -> None:
    data = new_patient(make)
    clock.advance(seconds=settings.activation_ttl.total_seconds() - 60)
    assert activate(make.client, data["activation_code"]).status_code == 200


def test_activation_refuses_a_short_password(make: Builders) -> None:
    data = new_patient(make)
    body = assert_error(activate(make.client, data["activation_code"], "short"), 422)
    assert "password" in body["errors"]
    assert "activation_code" not in body["errors"]
    # The code was not used up by the refused attempt.
    assert activate(make.client, data["activation_code"]).status_code == 200


@pytest.mark.parametrize("variant", ["lower", "no-dashes", "spaces"])
def test_activation_code_is_case_and_separator_insensitive(make: Builders, variant: str) -> None:
    data = new_patient(make)
    code: str = data["activation_code"]
    typed = {
        "lower": code.lower(),
        "no-dashes": code.replace("-", "").lower(),
        "spaces": code.replace("-", " "),
    }[variant]
    assert typed != code
    assert activate(make.client, typed).status_code == 200


def test_unknown_activation_code_is_422(client: FlaskClient) -> None:
    body = assert_error(activate(client, "AAAA-BBBB-CCCC"), 422)
    assert "activation_code" in body["errors"]


def test_patient_cannot_log_in_before_activation(make: Builders) -> None:
    data = new_patient(make)
    wrong = assert_error(login(make.client, data["email"], PASSWORD), 401)
    unknown = assert_error(login(make.client, "nobody-here@example.org", PASSWORD), 401)
    assert wrong["message"] == unknown["message"]
