"""API5 Broken Function Level Authorization: functions reserved to one role.

The role comes from the account on every request (tests/security/test_api2_...).
Care-team changes (admins only) and clinical writes (the care team only) are rows of
the authorization matrix; the other role-bound functions are here. Every route but
the public ones needs a token.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.db.uow import Database
from tests.conftest import Builders, FrozenClock
from tests.security.world import TAPER, World, assert_error, build_world, routes, snapshot

# Reachable without a token: logging in, refreshing, activating, redeeming a reset
# code, the probes, the docs and the spec.
PUBLIC = {
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/activate"),
    ("POST", "/v1/auth/password-reset"),
    ("GET", "/healthz"),
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/start.js"),
    ("GET", "/docs/assets/<path:filename>"),
}


@dataclass(frozen=True)
class Function:
    method: str
    path: str
    allowed: str  # the one role that may call it
    body: Callable[[World], dict[str, Any]] | None = None
    hidden_from: tuple[str, ...] = ()  # roles that may not even see the object: 404

    def url(self, w: World) -> str:
        return self.path.format(pid=w.patient_id, rx=w.rx_id, plan=w.plan_id, uid=w.doc.id)


FUNCTIONS = [
    Function("GET", "/v1/users", "admin"),
    Function(
        "POST",
        "/v1/users",
        "admin",
        lambda w: {
            "role": "admin",
            "email": "new-admin@example.org",
            "password": "a long enough password",
            "name": "New Admin",
        },
    ),
    Function("GET", "/v1/admin/notifications", "admin"),
    Function("POST", "/v1/users/{uid}/password-reset", "admin"),
    Function("POST", "/v1/users/{uid}/deactivate", "admin"),
    Function("POST", "/v1/users/{uid}/reactivate", "admin"),
    Function(
        "POST",
        "/v1/patients",
        "clinician",
        lambda w: {
            "name": "New",
            "email": "new-patient@example.org",
            "timezone": "Europe/London",
            "date_of_birth": "1990-01-01",
        },
    ),
    Function(
        "POST", "/v1/taper-plans/preview", "clinician", lambda w: {**TAPER, "drug": "diazepam"}
    ),
    Function(
        "POST",
        "/v1/taper-plans/{plan}/cancel",
        "clinician",
        lambda w: {"reason": "x"},
        hidden_from=("admin",),
    ),
    Function("GET", "/v1/me/doses/today", "patient"),
    Function("GET", "/v1/me/enrolments", "clinician"),
]
CALLERS = {"admin": "admin", "clinician": "doc", "patient": "patient"}


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


@pytest.mark.parametrize("role", sorted(CALLERS))
@pytest.mark.parametrize("fn", FUNCTIONS, ids=[f"{f.method} {f.path}" for f in FUNCTIONS])
def test_a_role_bound_function_refuses_the_other_roles(
    make: Builders, world: World, database: Database, fn: Function, role: str
) -> None:
    who = getattr(world, CALLERS[role])
    body = fn.body(world) if fn.body else None
    before = snapshot(database)
    r = make.client.open(fn.url(world), method=fn.method, json=body, headers=who.headers)
    if role != fn.allowed:
        assert_error(r, 404 if role in fn.hidden_from else 403)
        assert snapshot(database) == before
    else:
        assert r.status_code in (200, 201, 202), r.get_json()


def test_every_route_but_the_public_ones_needs_a_token(app: Flask, make: Builders) -> None:
    served = set(routes(app))
    assert served >= PUBLIC
    for method, rule in sorted(served - PUBLIC):
        path = rule.replace("<string:drug_id>", "diazepam")
        while "<uuid:" in path:
            start = path.index("<uuid:")
            path = path[:start] + str(uuid.uuid4()) + path[path.index(">", start) + 1 :]
        r = make.client.open(path, method=method, json={})
        assert_error(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer"), (method, rule)


def test_the_spec_marks_exactly_the_public_operations_as_open(client: FlaskClient) -> None:
    spec: dict[str, Any] = client.get("/openapi.json").json  # type: ignore[assignment]
    assert spec["security"] == [{"bearerAuth": []}]
    open_operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and operation.get("security") == []
    }
    not_in_spec = {"/openapi.json", "/docs", "/docs/start.js", "/docs/assets/<path:filename>"}
    assert open_operations == {(m, r) for m, r in PUBLIC if r not in not_in_spec}
