"""Liveness and readiness probes for process managers and load balancers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from service import create_app
from service.api.docs import VERSION
from service.db.migrate import current_heads, upgrade
from tests.conftest import settings_for


def test_live_and_ready_on_a_migrated_database(client: FlaskClient) -> None:
    live = client.get("/livez")
    assert (live.status_code, live.json) == (200, {"status": "ok", "version": VERSION})
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json == {"status": "ok", "database": "ok", "schema": current_heads()[0]}


@pytest.fixture
def behind_app(tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0004")
    app = create_app(settings_for(url))
    yield app
    app.extensions["medtrack"].db.dispose()


def test_a_database_behind_the_release_is_not_ready(behind_app: Flask) -> None:
    ready = behind_app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"] == "5"
    assert "schema is at 0004" in ready.json["message"]  # type: ignore[index]
    assert "medtrack db upgrade" in ready.json["message"]  # type: ignore[index]
    assert behind_app.test_client().get("/livez").status_code == 200


def test_a_database_ahead_of_the_release_is_ready(tmp_path: Path) -> None:
    """A newer release has migrated (rolling deploy): this one keeps serving."""
    url = f"sqlite:///{tmp_path / 'newer.sqlite'}"
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    app = create_app(settings_for(url))
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200, ready.json
        assert ready.json["schema"] == "9999"  # type: ignore[index]
    finally:
        app.extensions["medtrack"].db.dispose()
