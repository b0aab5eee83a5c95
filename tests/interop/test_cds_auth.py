"""Who may call the CDS Hooks service: a JWT signed by a trusted EHR (ES384, RS384)
for this endpoint, unexpired and used once; in development with no client configured,
an unauthenticated call from loopback, logged."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service import create_app
from service.config import Settings, SettingsError
from tests.conftest import FrozenClock, settings_for
from tests.interop.cds_helpers import (
    BASE,
    CLIENTS,
    EHR_RS,
    ES_KEY,
    OTHER_ES_KEY,
    SERVICE,
    assert_cds_response,
    auth,
    call,
    med_request,
    token,
)

BODY = call([med_request("d", "tramadol")])


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, cds_clients=CLIENTS)


def _app(database_url: str, env: str, **overrides: Any) -> Iterator[FlaskClient]:
    """An app whose runtime settings are those of `env` (built as a test app: in
    production the app would refuse the test database's superuser role)."""
    app: Flask = create_app(settings_for(database_url, **overrides))
    runtime = app.extensions["medtrack"]
    app.extensions["medtrack"] = replace(runtime, settings=replace(runtime.settings, env=env))
    yield app.test_client()
    runtime.db.dispose()


def test_es384_and_rs384_tokens_are_accepted(client: FlaskClient) -> None:
    for headers in (auth(), auth(iss=EHR_RS)):
        r = client.post(SERVICE, json=BODY, headers=headers)
        assert r.status_code == 200, r.get_json()
        assert_cds_response(r.get_json())


@pytest.mark.parametrize(
    ("why", "kwargs"),
    [
        ("wrong audience", {"aud": f"{BASE}/another-service"}),
        ("expired", {"now": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)}),
        ("unknown issuer", {"iss": "https://stranger.example.org"}),
        ("bad signature", {"key": OTHER_ES_KEY}),
        ("unknown kid", {"kid": "es-2"}),
        ("too long-lived", {"lifetime": 86_400}),
        ("shared secret", {"key": "a-shared-secret-of-some-length-000", "alg": "HS256"}),
    ],
)
def test_a_bad_token_is_401(client: FlaskClient, why: str, kwargs: dict[str, Any]) -> None:
    r = client.post(SERVICE, json=BODY, headers=auth(**kwargs))
    assert r.status_code == 401, why
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_missing_its_jti_is_401(client: FlaskClient) -> None:
    claims = jwt.decode(token(), options={"verify_signature": False})
    del claims["jti"]
    signed = jwt.encode(claims, ES_KEY, algorithm="ES384", headers={"kid": "es-1"})
    r = client.post(SERVICE, json=BODY, headers={"Authorization": f"Bearer {signed}"})
    assert r.status_code == 401


def test_a_jti_authorises_one_call(client: FlaskClient) -> None:
    headers = {"Authorization": f"Bearer {token()}"}
    assert client.post(SERVICE, json=BODY, headers=headers).status_code == 200
    r = client.post(SERVICE, json=BODY, headers=headers)
    assert r.status_code == 401
    assert "used before" in r.get_json()["message"]


def test_a_spent_jti_stays_spent_until_the_token_is_refused_as_expired(
    client: FlaskClient, clock: FrozenClock
) -> None:
    headers = {"Authorization": f"Bearer {token(now=clock(), lifetime=10)}"}
    assert client.post(SERVICE, json=BODY, headers=headers).status_code == 200
    # Past its expiry, inside the clock leeway: still accepted as a token, so it must
    # still be known as spent.
    clock.advance(seconds=40)
    r = client.post(SERVICE, json=BODY, headers=headers)
    assert r.status_code == 401
    assert "used before" in r.get_json()["message"]
    clock.advance(seconds=60)
    r = client.post(SERVICE, json=BODY, headers=headers)
    assert r.status_code == 401
    assert "expired" in r.get_json()["message"]


def test_the_audience_is_the_configured_public_url_not_the_host_header(
    database_url: str,
) -> None:
    public = "https://medtrack.example.org/clinic"
    for c in _app(database_url, env="production", cds_clients=CLIENTS, public_url=public):
        meant = f"{public}/cds-services/medtrack-medication-safety"
        r = c.post(SERVICE, json=BODY, headers=auth(aud=meant))
        assert r.status_code == 200, r.get_json()
        # A token made out to another service, sent with that service's Host header.
        elsewhere = "http://evil.example/cds-services/medtrack-medication-safety"
        r = c.post(SERVICE, json=BODY, headers={**auth(aud=elsewhere), "Host": "evil.example"})
        assert r.status_code == 401


def test_production_with_cds_clients_needs_the_public_url() -> None:
    production = {"env": "production", "secret_key": "k" * 40, "cds_clients": CLIENTS}
    with pytest.raises(SettingsError, match="MEDTRACK_PUBLIC_URL must be set"):
        Settings(**production)  # type: ignore[arg-type]
    assert Settings(**production, public_url="https://m.example").public_url  # type: ignore[arg-type]
    assert Settings.from_env({"MEDTRACK_PUBLIC_URL": "https://m.example/"}).public_url == (
        "https://m.example"
    )
    with pytest.raises(SettingsError, match="MEDTRACK_PUBLIC_URL"):
        Settings.from_env({"MEDTRACK_PUBLIC_URL": "medtrack.example.org?x=1"})


def test_without_a_token_the_call_is_refused(client: FlaskClient) -> None:
    assert client.post(SERVICE, json=BODY).status_code == 401


def test_production_refuses_a_call_without_a_token(database_url: str) -> None:
    for c in _app(database_url, env="production"):
        assert c.post(SERVICE, json=BODY).status_code == 401
        assert c.get("/cds-services").status_code == 200


def test_development_accepts_loopback_without_clients_and_logs_it(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    for c in _app(database_url, env="development"):
        with caplog.at_level(logging.WARNING, logger="medtrack.cds"):
            r = c.post(SERVICE, json=BODY, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert r.status_code == 200, r.get_json()
        assert_cds_response(r.get_json())
        (line,) = [m for m in caplog.messages if "without a JWT" in m]
        assert "127.0.0.1" in line
        r = c.post(SERVICE, json=BODY, environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert r.status_code == 401
        # Through a proxy on this machine, the peer is loopback but the caller is not.
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            r = c.post(
                SERVICE,
                json=BODY,
                headers={header: "127.0.0.1"},
                environ_base={"REMOTE_ADDR": "127.0.0.1"},
            )
            assert r.status_code == 401, header


def test_development_behind_a_trusted_proxy_requires_a_token(database_url: str) -> None:
    """With a proxy trusted, the address is the one the proxy was told: a caller
    could name 127.0.0.1 itself."""
    for c in _app(database_url, env="development", trusted_proxies=1):
        r = c.post(SERVICE, json=BODY, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert r.status_code == 401


def test_development_with_clients_configured_requires_a_token(database_url: str) -> None:
    for c in _app(database_url, env="development", cds_clients=CLIENTS):
        r = c.post(SERVICE, json=BODY, environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert r.status_code == 401


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "must be JSON"),
        ('{"iss": "x"}', "JSON list"),
        ('[{"iss": "x"}]', "jwks must be a JWK Set"),
        ('[{"iss": "", "jwks": {"keys": []}}]', "iss must be"),
        ('[{"iss": "x", "jwks": {"keys": [{"kty": "oct", "kid": "k"}]}}]', "EC or RSA"),
        ('[{"iss": "x", "jwks": {"keys": [{"kty": "EC", "kid": "k"}]}}]', "not a usable key"),
        ('[{"iss": "x", "jwks": {"keys": []}, "secret": 1}]', "unknown fields: secret"),
    ],
)
def test_the_clients_setting_is_validated_when_it_loads(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"MEDTRACK_CDS_CLIENTS": raw})
