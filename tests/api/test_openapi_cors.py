"""Browser apps: CORS for the origins in MEDTRACK_CORS_ORIGINS only, on the JSON API only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import Settings, SettingsError
from tests.conftest import Builders, settings_for

APP_ORIGIN = "https://app.medtrack.example"
PREFLIGHT = {
    "Origin": APP_ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


@pytest.fixture
def cors_client(database_url: str) -> Iterator[FlaskClient]:
    app = create_app(settings_for(database_url, cors_origins=(APP_ORIGIN,)))
    yield app.test_client()
    app.extensions["medtrack"].db.dispose()


def test_an_allowed_origin_gets_a_preflight_answer_without_a_token(
    cors_client: FlaskClient,
) -> None:
    r = cors_client.options("/v1/me/doses/today", headers=PREFLIGHT)
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert set(r.headers["Access-Control-Allow-Methods"].split(", ")) >= {"GET", "POST", "PATCH"}
    allowed = {h.strip().lower() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed >= {"authorization", "content-type", "idempotency-key", "if-none-match"}
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in r.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_an_allowed_origin_reads_the_answer_and_its_headers(
    cors_client: FlaskClient, database_url: str
) -> None:
    r = cors_client.post(
        "/v1/auth/token",
        json={"email": "nobody@example.org", "password": "not the password"},
        headers={"Origin": APP_ORIGIN},
    )
    # Errors too: the app must be able to read why it was refused.
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = {h.strip() for h in r.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed >= {"ETag", "X-Total-Count", "Retry-After", "Link"}
    assert "Origin" in r.headers["Vary"]


def test_another_origin_is_refused(cors_client: FlaskClient) -> None:
    other = {**PREFLIGHT, "Origin": "https://evil.example"}
    r = cors_client.options("/v1/me/doses/today", headers=other)
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Methods" not in r.headers
    r = cors_client.get("/v1/me", headers={"Origin": "https://evil.example"})
    assert r.status_code == 401
    assert "Access-Control-Allow-Origin" not in r.headers


def test_the_fhir_api_and_cds_hooks_answer_listed_origins(cors_client: FlaskClient) -> None:
    """An EHR's web client reads FHIR, and the CDS Hooks sandbox calls the service, from
    the browser: the listed origins may, others may not."""
    for path in ("/fhir/R4/metadata", "/cds-services"):
        r = cors_client.options(path, headers=PREFLIGHT)
        assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN, path
        r = cors_client.get(path, headers={"Origin": APP_ORIGIN})
        assert r.headers["Access-Control-Allow-Origin"] == APP_ORIGIN, path
        r = cors_client.get(path, headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in r.headers, path


def test_the_console_never_answers_cross_origin(cors_client: FlaskClient) -> None:
    r = cors_client.get("/console/login", headers={"Origin": APP_ORIGIN})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = cors_client.options("/console/login", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in r.headers


def test_no_origin_is_allowed_by_default(app: Flask, client: FlaskClient, make: Builders) -> None:
    assert app.extensions["medtrack"].settings.cors_origins == ()
    doctor = make.clinician()
    r = client.options("/v1/patients", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in r.headers
    r = client.get("/v1/patients", headers={**doctor.headers, "Origin": APP_ORIGIN})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers


def test_origins_are_read_from_the_environment() -> None:
    env = {"MEDTRACK_CORS_ORIGINS": "https://app.medtrack.example, http://localhost:5173"}
    assert Settings.from_env(env).cors_origins == (APP_ORIGIN, "http://localhost:5173")
    for wrong in ("*", "https://app.medtrack.example/", "app.medtrack.example"):
        with pytest.raises(SettingsError, match="MEDTRACK_CORS_ORIGINS"):
            Settings.from_env({"MEDTRACK_CORS_ORIGINS": wrong})
