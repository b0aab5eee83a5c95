"""The `medtrack` command, run as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from service.cli import main
from service.db.uow import Database
from service.usecases import demo as demo_data


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {
        "MEDTRACK_DATABASE_URL": database_url,
        "MEDTRACK_ARGON2_TIME_COST": "1",
        "MEDTRACK_ARGON2_MEMORY_KIB": "1024",
    }


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("db", "users", "serve", "demo", "openapi", "audit", "backup", "restore"):
        assert command in result.output


def test_db_upgrade_is_repeatable(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert "head" in result.output


def test_users_create_then_duplicate_is_refused(env: dict[str, str]) -> None:
    args = [
        "users",
        "create",
        "--role",
        "clinician",
        "--email",
        "Lee@Example.org",
        "--name",
        "Dr Lee",
        "--password",
        "a long enough password",
    ]
    first = CliRunner().invoke(main, args, env=env)
    assert first.exit_code == 0, first.output
    assert "created clinician lee@example.org" in first.output
    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_users_create_rejects_a_short_password(env: dict[str, str]) -> None:
    args = [
        "users",
        "create",
        "--role",
        "admin",
        "--email",
        "a@example.org",
        "--name",
        "A",
        "--password",
        "short",
    ]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1
    assert "password" in result.output


def test_production_refuses_the_development_secret(env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["db", "upgrade"], env={**env, "MEDTRACK_ENV": "production"})
    assert result.exit_code == 1
    assert "MEDTRACK_SECRET_KEY" in result.output


def _counts(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())  # noqa: S608
            for t in ("users", "patients", "prescriptions")
        }


def test_demo_seeds_once(env: dict[str, str], database: Database) -> None:
    first = CliRunner().invoke(main, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert demo_data.CLINICIAN[0] in first.output
    assert "(created)" in first.output
    seeded = _counts(database)
    # Alex's escitalopram and diazepam, Sam's atorvastatin.
    assert seeded == {"users": 5, "patients": 3, "prescriptions": 3}
    second = CliRunner().invoke(main, ["demo"], env=env)
    assert second.exit_code == 0, second.output
    assert "(created)" not in second.output
    assert _counts(database) == seeded


def test_demo_in_one_zone(env: dict[str, str], database: Database) -> None:
    done = CliRunner().invoke(main, ["demo", "--timezone", "Asia/Kolkata"], env=env)
    assert done.exit_code == 0, done.output
    with database.engine.connect() as conn:
        zones = conn.execute(text("SELECT DISTINCT timezone FROM patients")).scalars().all()
    assert zones == ["Asia/Kolkata"]


def test_demo_refuses_an_unknown_zone(env: dict[str, str], database: Database) -> None:
    done = CliRunner().invoke(main, ["demo", "--timezone", "Asia/Calcuta"], env=env)
    assert done.exit_code == 2
    assert "--timezone" in done.output
    assert "'Asia/Calcuta' is not an IANA time-zone name" in done.output
    assert _counts(database) == {"users": 0, "patients": 0, "prescriptions": 0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def test_serve_runs_gunicorn_with_health_docs_and_demo_login(env: dict[str, str]) -> None:
    assert CliRunner().invoke(main, ["demo"], env=env).exit_code == 0
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                status, body = _request(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        assert (status, body) == (200, {"status": "ok", "database": "ok"})
        with urllib.request.urlopen(f"{base}/docs", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
            assert b"swagger" in resp.read().lower()
        email, password, _ = demo_data.CLINICIAN
        status, token = _request(f"{base}/v1/auth/token", {"email": email, "password": password})
        assert status == 200
        assert token["token_type"] == "Bearer"
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    # Start-up says where it serves, once for the whole server (not once per worker).
    serving = [line for line in output.splitlines() if " INFO medtrack.api: serving " in line]
    assert len(serving) == 1, output
    assert f"serving http://127.0.0.1:{port} (API /v1/" in serving[0]
    assert "Booting worker" not in output
