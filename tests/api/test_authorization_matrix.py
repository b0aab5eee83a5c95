"""Who may call what on a patient: every endpoint under /v1/patients/{patient_id}.

Callers who may not see a patient get 404 (existence is not leaked), callers
without a valid token 401, and a denied request writes nothing. The table of
endpoints is tests/api/authz.py; the completeness test fails when a route under
/v1/patients/ is added without a row there.
"""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from service.db.uow import Database
from tests.api.authz import (
    ENDPOINT_IDS,
    ENDPOINTS,
    Endpoint,
    World,
    assert_denied_without_writes,
    build_world,
    snapshot,
)
from tests.conftest import Builders, FrozenClock


@pytest.fixture
def world(make: Builders, database: Database) -> World:
    return build_world(make, database)


# Callers who must not reach the patient, whatever the endpoint.
def _anonymous(client: FlaskClient, clock: FrozenClock, w: World) -> dict[str, str]:
    return {}


def _other_patient(client: FlaskClient, clock: FrozenClock, w: World) -> dict[str, str]:
    return w.other_patient.headers


def _other_clinician(client: FlaskClient, clock: FrozenClock, w: World) -> dict[str, str]:
    return w.outsider.headers


def _revoked(client: FlaskClient, clock: FrozenClock, w: World) -> dict[str, str]:
    """A care-team clinician's token after logout."""
    r = client.post("/v1/auth/token", json={"email": w.team.email, "password": w.team.password})
    headers = {"Authorization": f"Bearer {r.json['access_token']}"}  # type: ignore[index]
    assert client.get("/v1/me", headers=headers).status_code == 200
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    return headers


def _expired(client: FlaskClient, clock: FrozenClock, w: World) -> dict[str, str]:
    """A care-team clinician's token, one second after its lifetime."""
    assert client.get("/v1/me", headers=w.team.headers).status_code == 200
    ttl = client.application.extensions["medtrack"].settings.token_ttl_seconds
    clock.advance(seconds=ttl + 1)
    return w.team.headers


def _forged(client: FlaskClient, clock: FrozenClock, w: World) -> dict[str, str]:
    """A care-team clinician's own claims, signed with another key."""
    token = w.team.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256")
    return {"Authorization": f"Bearer {forged}"}


OUTSIDERS: dict[str, tuple[Callable[[FlaskClient, FrozenClock, World], dict[str, str]], int]] = {
    "anonymous": (_anonymous, 401),
    "other-patient": (_other_patient, 404),
    "other-clinician": (_other_clinician, 404),
    "revoked-token": (_revoked, 401),
    "expired-token": (_expired, 401),
    "forged-token": (_forged, 401),
}


@pytest.mark.parametrize("caller", list(OUTSIDERS))
@pytest.mark.parametrize("ep", ENDPOINTS, ids=ENDPOINT_IDS)
def test_outsiders_are_refused_and_nothing_is_written(
    client: FlaskClient,
    clock: FrozenClock,
    world: World,
    ep: Endpoint,
    caller: str,
    count_rows: Callable[[str], int],
) -> None:
    if ep.setup:
        ep.setup(client, world)
    headers_of, status = OUTSIDERS[caller]
    headers = headers_of(client, clock, world)
    assert_denied_without_writes(client, world, ep, headers, status, count_rows)


@pytest.mark.parametrize("role", ["owner", "clinician", "admin"])
@pytest.mark.parametrize("ep", ENDPOINTS, ids=ENDPOINT_IDS)
def test_patient_care_team_and_admin_get_their_due(
    client: FlaskClient,
    world: World,
    ep: Endpoint,
    role: str,
    count_rows: Callable[[str], int],
) -> None:
    """The expected column of ENDPOINTS: allowed calls succeed, denied ones write nothing."""
    if ep.setup:
        ep.setup(client, world)
    account = {"owner": world.patient, "clinician": world.team, "admin": world.admin}[role]
    status = getattr(ep, role)
    if status >= 400:
        assert_denied_without_writes(client, world, ep, account.headers, status, count_rows)
        return
    before = snapshot(world.database)
    r = ep.call(client, world, account.headers)
    assert r.status_code == status, r.get_data(as_text=True)
    if ep.json:
        assert isinstance(r.get_json(), dict | list)
    # A positive control for the denials: the same request, allowed, does write.
    assert (snapshot(world.database) != before) is (ep.method != "GET")


def test_matrix_covers_every_patient_route(app: Flask) -> None:
    routed = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/v1/patients/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    listed = {(e.method, e.rule) for e in ENDPOINTS}
    assert routed - listed == set(), "add these routes to ENDPOINTS"
    assert listed - routed == set(), "ENDPOINTS lists routes that do not exist"
    assert len(listed) == len(ENDPOINTS)
