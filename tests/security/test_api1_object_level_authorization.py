"""API1 Broken Object Level Authorization, beyond /v1/patients/{id}/...

Every route under /v1/patients/{patient_id} is in the authorization matrix
(tests/api/test_authorization_matrix.py). The rest address an object by its own id
(a dose, a taper plan, a device) or name a patient in the body: here every one of them
answers 404 to a caller who may not reach that object, exactly as for an id that does
not exist, and writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from service.db.uow import Database
from tests.conftest import Builders, FrozenClock
from tests.security.world import World, assert_error, build_world, routes, snapshot


@dataclass(frozen=True)
class ByIdRoute:
    method: str
    rule: str
    body: Callable[[World], dict[str, Any]] | None = None

    def path(self, w: World, *, unknown: bool = False) -> str:
        fill = {
            "<uuid:dose_id>": w.dose_id,
            "<uuid:plan_id>": w.plan_id,
            "<uuid:device_id>": w.device_id,
        }
        path = self.rule
        for placeholder, value in fill.items():
            path = path.replace(placeholder, str(uuid.uuid4()) if unknown else value)
        return path


def _reason(w: World) -> dict[str, Any]:
    return {"reason": "review"}


PLAN = "/v1/taper-plans/<uuid:plan_id>"
BY_ID = [
    ByIdRoute("POST", "/v1/doses/<uuid:dose_id>/taken", lambda w: {}),
    ByIdRoute("POST", "/v1/doses/<uuid:dose_id>/skipped", lambda w: {}),
    ByIdRoute("POST", "/v1/doses/<uuid:dose_id>/snooze", lambda w: {"minutes": 10}),
    ByIdRoute("GET", PLAN),
    ByIdRoute("GET", f"{PLAN}/chart.svg"),
    ByIdRoute("POST", f"{PLAN}/chart-links", lambda w: {}),
    ByIdRoute("POST", f"{PLAN}/approve", lambda w: {"approve_flagged": []}),
    ByIdRoute("POST", f"{PLAN}/extend", lambda w: {"days": 3}),
    ByIdRoute("POST", f"{PLAN}/step-back", _reason),
    ByIdRoute("POST", f"{PLAN}/pause", _reason),
    ByIdRoute("POST", f"{PLAN}/resume", _reason),
    ByIdRoute("POST", f"{PLAN}/cancel", _reason),
    ByIdRoute("GET", f"{PLAN}/symptom-reports"),
    ByIdRoute("POST", f"{PLAN}/symptom-reports", lambda w: {"items": {}}),
    ByIdRoute("GET", f"{PLAN}/dispensing"),
    ByIdRoute("GET", f"{PLAN}/dispensing.csv"),
    ByIdRoute("DELETE", "/v1/me/devices/<uuid:device_id>"),
]


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


def test_every_route_addressing_an_object_by_id_is_listed(app: Flask) -> None:
    """Catalog entries (/v1/drugs/{drug_id}) are the same for everyone and not listed;
    accounts (/v1/users/{user_id}/...) are an administrator's function, refused to
    every other role alike (test_api5_function_level_authorization.py)."""
    served = {
        (method, rule)
        for method, rule in routes(app)
        if "<uuid:" in rule and not rule.startswith(("/v1/patients/", "/v1/users/"))
    }
    listed = {(r.method, r.rule) for r in BY_ID}
    assert served - listed == set(), "add these routes to BY_ID"
    assert listed - served == set(), "BY_ID lists routes that do not exist"


@pytest.mark.parametrize("caller", ["outsider", "other_patient", "admin"])
@pytest.mark.parametrize("route", BY_ID, ids=[f"{r.method} {r.rule}" for r in BY_ID])
def test_someone_elses_object_is_not_found_and_not_touched(
    make: Builders, world: World, database: Database, route: ByIdRoute, caller: str
) -> None:
    headers = getattr(world, caller).headers
    body = route.body(world) if route.body else None
    before = snapshot(database)
    theirs = make.client.open(route.path(world), method=route.method, json=body, headers=headers)
    missing = make.client.open(
        route.path(world, unknown=True), method=route.method, json=body, headers=headers
    )
    assert_error(theirs, 404)
    assert_error(missing, 404)
    # Nothing tells a real object from a made-up id (beyond the id itself).
    assert {**theirs.get_json(), "message": ""} == {**missing.get_json(), "message": ""}
    assert str(world.patient_id) not in theirs.get_data(as_text=True)
    assert world.patient.email not in theirs.get_data(as_text=True)
    assert snapshot(database) == before


def test_the_owner_reaches_the_same_objects(make: Builders, world: World) -> None:
    """Control for the refusals: the patient's own dose, plan and device are found."""
    h = world.patient.headers
    assert make.client.get(f"/v1/taper-plans/{world.plan_id}", headers=h).status_code == 200
    r = make.client.post(f"/v1/doses/{world.dose_id}/taken", json={}, headers=h)
    assert r.status_code == 200, r.json
    r = make.client.delete(f"/v1/me/devices/{world.device_id}", headers=h)
    assert r.status_code == 204


@pytest.mark.parametrize("caller", ["outsider", "other_patient", "admin"])
def test_a_patient_named_in_a_body_is_checked_like_one_in_the_path(
    make: Builders, world: World, caller: str, count_rows: Callable[[str], int]
) -> None:
    headers = getattr(world, caller).headers
    body = {"drugs": ["ibuprofen"], "patient_id": str(world.patient_id)}
    audited = count_rows("audit_events")
    r = make.client.post("/v1/interactions/check", json=body, headers=headers)
    assert_error(r, 404)
    assert "escitalopram" not in r.get_data(as_text=True)
    # Only the refusal itself is recorded, under the patient.
    assert count_rows("audit_events") == audited + 1
    ok = make.client.post("/v1/interactions/check", json=body, headers=world.doc.headers)
    assert ok.status_code == 200, ok.json
