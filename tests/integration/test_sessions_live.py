"""Sessions over real HTTP: `medtrack serve` (gunicorn, two workers) with the demo data,
driven as the patient's app and the clinician's console would drive it.

Refresh and rotation, reuse of a rotated refresh token, a password change, a reset
code from the care team, and "log out everywhere", each seen from the outside: every
request goes through a socket to whichever worker takes it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from service.cli import main
from service.usecases import demo as demo_data

NEW_PASSWORD = "a brand new patient passphrase"


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def login(self, email: str, password: str) -> dict[str, Any]:
        status, body = self.call("POST", "/v1/auth/token", {"email": email, "password": password})
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    def me(self, token: str) -> int:
        return self.call("GET", "/v1/me", token=token)[0]

    def refresh(self, refresh_token: str) -> tuple[int, Any]:
        return self.call("POST", "/v1/auth/refresh", {"refresh_token": refresh_token})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    env = {
        "MEDTRACK_DATABASE_URL": database_url,
        "MEDTRACK_ARGON2_TIME_COST": "1",
        "MEDTRACK_ARGON2_MEMORY_KIB": "1024",
        "MEDTRACK_LOG_LEVEL": "WARNING",
    }
    seeded = CliRunner().invoke(main, ["demo"], env=env)
    assert seeded.exit_code == 0, seeded.output
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Api(f"http://127.0.0.1:{port}")
    try:
        for _ in range(150):
            try:
                if client.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield client
    finally:
        proc.terminate()
        proc.wait(timeout=20)


PATIENT_EMAIL, PATIENT_PASSWORD = demo_data.PATIENTS[0][0], demo_data.PATIENTS[0][1]


def test_a_refresh_token_rotates_and_its_reuse_ends_the_session(api: Api) -> None:
    first = api.login(PATIENT_EMAIL, PATIENT_PASSWORD)
    assert api.me(first["access_token"]) == 200
    status, second = api.refresh(first["refresh_token"])
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    assert api.me(second["access_token"]) == 200
    # Someone replays the first refresh token: the whole session ends, for both holders.
    assert api.refresh(first["refresh_token"])[0] == 401
    assert api.refresh(second["refresh_token"])[0] == 401
    assert api.me(second["access_token"]) == 401
    # Another device of the same account is not touched.
    other = api.login(PATIENT_EMAIL, PATIENT_PASSWORD)
    assert api.me(other["access_token"]) == 200


def test_a_password_change_ends_the_other_sessions_and_logout_all_ends_every_one(
    api: Api,
) -> None:
    phone, tablet = (
        api.login(PATIENT_EMAIL, PATIENT_PASSWORD),
        api.login(PATIENT_EMAIL, PATIENT_PASSWORD),
    )
    status, fresh = api.call(
        "POST",
        "/v1/auth/password",
        {"current_password": PATIENT_PASSWORD, "new_password": NEW_PASSWORD},
        token=phone["access_token"],
    )
    assert status == 200, fresh
    assert api.me(fresh["access_token"]) == 200
    assert api.me(tablet["access_token"]) == 401
    assert api.refresh(tablet["refresh_token"])[0] == 401
    assert (
        api.call("POST", "/v1/auth/token", {"email": PATIENT_EMAIL, "password": PATIENT_PASSWORD})[
            0
        ]
        == 401
    )
    laptop = api.login(PATIENT_EMAIL, NEW_PASSWORD)

    status, _ = api.call("POST", "/v1/auth/logout-all", token=fresh["access_token"])
    assert status == 204
    for session in (fresh, laptop):
        assert api.me(session["access_token"]) == 401
        assert api.refresh(session["refresh_token"])[0] == 401


def test_the_care_team_issues_a_reset_code_that_works_once(api: Api) -> None:
    doc = api.login(demo_data.CLINICIAN[0], demo_data.CLINICIAN[1])
    status, patients = api.call("GET", "/v1/patients", token=doc["access_token"])
    assert status == 200, patients
    (patient,) = [p for p in patients if p["email"] == PATIENT_EMAIL]
    before = api.login(PATIENT_EMAIL, PATIENT_PASSWORD)
    status, code = api.call(
        "POST", f"/v1/patients/{patient['id']}/password-reset", token=doc["access_token"]
    )
    assert status == 201, code
    redeem = {"reset_code": code["reset_code"], "new_password": NEW_PASSWORD}
    assert api.call("POST", "/v1/auth/password-reset", redeem)[0] == 204
    assert api.me(before["access_token"]) == 401
    assert api.me(api.login(PATIENT_EMAIL, NEW_PASSWORD)["access_token"]) == 200
    status, body = api.call("POST", "/v1/auth/password-reset", redeem)
    assert status == 422
    assert "reset_code" in body["errors"]
