"""With the database unreachable the API answers 503 with Retry-After, never 500."""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from service import create_app
from service.config import Settings
from service.domain.accounts import Role


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unreachable_app() -> Iterator[Flask]:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/medtrack"
    app = create_app(
        Settings(
            env="test",
            database_url=url,
            secret_key=secrets.token_urlsafe(32),
            argon2_time_cost=1,
            argon2_memory_kib=1024,
        )
    )
    yield app
    app.extensions["medtrack"].db.dispose()


def test_health_check_reports_the_outage(unreachable_app: Flask) -> None:
    r = unreachable_app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["message"] == "The database is unreachable."  # type: ignore[index]


def test_without_a_database_live_but_not_ready(unreachable_app: Flask) -> None:
    client = unreachable_app.test_client()
    assert client.get("/livez").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == "5"
    assert ready.json["message"] == "The database is unreachable."  # type: ignore[index]


def _assert_unavailable(r: TestResponse) -> None:
    assert r.status_code == 503, r.json
    assert r.headers["Retry-After"] == "5"
    assert set(r.json) == {"code", "status", "message", "errors"}  # type: ignore[arg-type]


def test_login_answers_503_with_retry_after(unreachable_app: Flask) -> None:
    r = unreachable_app.test_client().post(
        "/v1/auth/token", json={"email": "a@example.org", "password": "whatever it is"}
    )
    _assert_unavailable(r)


def test_a_well_signed_token_cannot_be_checked_so_503(unreachable_app: Flask) -> None:
    tokens = unreachable_app.extensions["medtrack"].tokens
    token, _, _ = tokens.issue(
        user_id=uuid.uuid4(), role=Role.CLINICIAN, patient_id=None, now=dt.datetime.now(dt.UTC)
    )
    r = unreachable_app.test_client().get(
        "/v1/patients", headers={"Authorization": f"Bearer {token}"}
    )
    _assert_unavailable(r)
