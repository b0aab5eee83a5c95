"""Races a single-request test cannot see: parallel logins, activations, team changes."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from service import create_app
from service.config import Settings
from tests.conftest import Builders, FrozenClock

PARALLEL = 12


def _parallel(call: Callable[[int], int]) -> Counter[int]:
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return Counter(pool.map(call, range(PARALLEL)))


@pytest.fixture
def slow_hash_app(settings: Settings, clock: FrozenClock) -> Iterator[Flask]:
    """Argon2 at a cost where a guess takes long enough for requests to overlap."""
    app = create_app(dataclasses.replace(settings, argon2_time_cost=2, argon2_memory_kib=32768))
    services = app.extensions["medtrack"]
    app.extensions["medtrack"] = dataclasses.replace(services, clock=clock)
    yield app
    services.db.dispose()


def test_parallel_guesses_cannot_exceed_the_limit(
    make: Builders, slow_hash_app: Flask, settings: Settings
) -> None:
    doc = make.clinician()

    def guess(i: int) -> int:
        body = {"email": doc.email, "password": f"wrong guess {i}"}
        return slow_hash_app.test_client().post("/v1/auth/token", json=body).status_code

    outcomes = _parallel(guess)
    assert outcomes[401] <= settings.login_max_failures, outcomes
    assert outcomes[401] + outcomes[429] == PARALLEL, outcomes


def test_an_activation_code_works_once_under_parallel_use(make: Builders) -> None:
    doc = make.clinician()
    r = make.client.post(
        "/v1/patients",
        json={
            "name": "Race",
            "email": "race@example.org",
            "timezone": "Asia/Kolkata",
            "date_of_birth": "1990-01-01",
        },
        headers=doc.headers,
    )
    code = r.json["activation_code"]  # type: ignore[index]

    def activate(i: int) -> int:
        body = {"activation_code": code, "password": f"password number {i}"}
        return make.app.test_client().post("/v1/auth/activate", json=body).status_code

    outcomes = _parallel(activate)
    assert outcomes[200] == 1, outcomes
    assert outcomes[422] == PARALLEL - 1, outcomes


def test_a_clinician_joins_a_care_team_once_under_parallel_requests(
    make: Builders, count_rows: Callable[[str], int]
) -> None:
    doc, second, admin = make.clinician(), make.clinician(), make.admin()
    pat = make.patient(doc)
    url = f"/v1/patients/{pat.patient_id}/care-team"

    def add(_: int) -> int:
        body = {"clinician_id": str(second.id)}
        return make.app.test_client().post(url, json=body, headers=admin.headers).status_code

    outcomes = _parallel(add)
    assert outcomes[201] == 1, outcomes
    assert outcomes[409] == PARALLEL - 1, outcomes
    assert count_rows("care_team_members") == 2
    r = make.client.delete(f"{url}/{second.id}", headers=admin.headers)
    assert r.status_code == 200
    denied = make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=second.headers)
    assert denied.status_code == 404
