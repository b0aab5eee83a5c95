"""Authorization beyond the matrix: no existence leak, field-level limits, list scoping."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from service.db.uow import Database
from tests.api.authz import (
    ENDPOINT_IDS,
    ENDPOINTS,
    WRITTEN_TABLES,
    Endpoint,
    World,
    assert_error,
    build_world,
    snapshot,
)
from tests.conftest import Account, Builders


@pytest.fixture
def world(make: Builders, database: Database) -> World:
    return build_world(make, database)


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ENDPOINT_IDS)
def test_another_patients_resource_looks_like_a_missing_one(
    client: FlaskClient, world: World, ep: Endpoint
) -> None:
    """The outsider's 404 for a real patient equals the team's 404 for an unknown id."""
    if ep.setup:
        ep.setup(client, world)
    unknown = uuid.uuid4()
    real = ep.call(client, world, world.outsider.headers)
    missing = ep.call(client, world, world.team.headers, patient_id=unknown)
    assert real.status_code == missing.status_code == 404
    assert real.get_json() == {
        **missing.get_json(),
        "message": missing.get_json()["message"].replace(str(unknown), str(world.patient_id)),
    }


RX_ENDPOINTS = [e for e in ENDPOINTS if "<uuid:rx_id>" in e.rule]


@pytest.mark.parametrize("ep", RX_ENDPOINTS, ids=[e.id for e in RX_ENDPOINTS])
def test_a_prescription_is_not_reachable_through_another_patient(
    client: FlaskClient, world: World, ep: Endpoint, count_rows: Callable[[str], int]
) -> None:
    """The outsider's own patient in the path does not open someone else's prescription."""
    if ep.setup:
        ep.setup(client, world)
    theirs = world.other_patient.patient_id
    counts = {t: count_rows(t) for t in WRITTEN_TABLES}
    before = snapshot(world.database)
    assert_error(ep.call(client, world, world.outsider.headers, patient_id=theirs), 404, world)
    # A patient may not write prescriptions at all (403 whatever the id); reads find nothing.
    r = ep.call(client, world, world.other_patient.headers, patient_id=theirs)
    assert_error(r, 403 if ep.owner == 403 else 404, world)
    assert {t: count_rows(t) for t in WRITTEN_TABLES} == counts
    assert snapshot(world.database) == before


@pytest.mark.parametrize("ep", ENDPOINTS, ids=ENDPOINT_IDS)
def test_a_clinician_removed_from_the_care_team_loses_access(
    client: FlaskClient, world: World, ep: Endpoint, count_rows: Callable[[str], int]
) -> None:
    path = f"/v1/patients/{world.patient_id}"
    assert client.get(path, headers=world.second.headers).status_code == 200
    r = client.delete(f"{path}/care-team/{world.second.id}", headers=world.admin.headers)
    assert r.status_code == 200, r.get_json()
    if ep.setup:
        ep.setup(client, world)
    assert client.get("/v1/me", headers=world.second.headers).status_code == 200
    counts = {t: count_rows(t) for t in WRITTEN_TABLES}
    before = snapshot(world.database)
    assert_error(ep.call(client, world, world.second.headers), 404, world)
    assert {t: count_rows(t) for t in WRITTEN_TABLES} == counts
    assert snapshot(world.database) == before


def test_patient_may_rename_themself_but_not_change_clinical_fields(
    client: FlaskClient, world: World
) -> None:
    path = f"/v1/patients/{world.patient_id}"
    for field, value in (("pregnant", True), ("date_of_birth", "1980-01-01"), ("email", "x@y.org")):
        before = snapshot(world.database)
        r = client.patch(path, json={field: value}, headers=world.patient.headers)
        assert_error(r, 403, world)
        assert set(r.get_json()["errors"]) == {field}
        assert snapshot(world.database) == before
    r = client.patch(path, json={"name": "New Name"}, headers=world.patient.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["name"] == "New Name"


def test_patient_lists_show_only_the_callers_patients(client: FlaskClient, world: World) -> None:
    def listed(account: Account) -> set[str]:
        r = client.get("/v1/patients", headers=account.headers)
        assert r.status_code == 200, r.get_json()
        return {p["id"] for p in r.get_json()}

    pid, other = str(world.patient_id), str(world.other_patient.patient_id)
    assert listed(world.patient) == {pid}
    assert listed(world.other_patient) == {other}
    assert listed(world.team) == {pid}
    assert listed(world.second) == {pid}
    assert listed(world.outsider) == {other}
    assert listed(world.admin) == {pid, other}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/patients"),
        ("POST", "/v1/patients"),
        ("GET", "/v1/me"),
        ("GET", "/v1/users"),
        ("POST", "/v1/users"),
        ("POST", "/v1/auth/logout"),
    ],
)
def test_other_authenticated_endpoints_need_a_token(
    client: FlaskClient, world: World, method: str, path: str
) -> None:
    r = client.open(path, method=method, json={})
    assert_error(r, 401, world)
