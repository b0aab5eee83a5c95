"""Findings of the penetration test (issue 16): JSON that cannot be read, refusals on a
patient's objects, device URLs and takeovers, time zones, the production webhook."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError

from service.config import Settings, SettingsError
from service.domain.timezones import is_valid_timezone
from service.usecases import audit
from tests.conftest import Builders, FrozenClock
from tests.security.world import FCM_TOKEN, World, assert_error, build_world


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


def _denied(make: Builders, world: World, patient_id: Any) -> list[str]:
    r = make.client.get(f"/v1/patients/{patient_id}/audit", headers=world.doc.headers)
    if r.status_code == 404:  # the outsider's own patient: read by their clinician
        r = make.client.get(f"/v1/patients/{patient_id}/audit", headers=world.outsider.headers)
    assert r.status_code == 200, r.json
    return [e["outcome_desc"] for e in r.json if e["subtype"] == "access.denied"]  # type: ignore[union-attr]


# --- JSON that cannot be read: 400 (or 422 naming the field), never 500 -------------

UNREADABLE = {
    "a number of 5,000 digits": b'{"minutes": ' + b"9" * 5000 + b"}",
    "bad UTF-8": b'{"minutes": "\xff\xfe"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "not JSON": b'{"minutes": ',
}


def _json_routes(world: World) -> dict[str, str]:
    return {
        "token": "/v1/auth/token",
        "interactions": "/v1/interactions/check",
        "snooze": f"/v1/doses/{world.dose_id}/snooze",
    }


@pytest.mark.parametrize("route", ["token", "interactions", "snooze"])
@pytest.mark.parametrize("body", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_body_that_cannot_be_decoded_is_a_400_for_anyone(
    make: Builders, world: World, route: str, body: bytes
) -> None:
    url = _json_routes(world)[route]
    for headers in ({}, world.patient.headers):
        r = make.client.post(url, data=body, headers=headers, content_type="application/json")
        error = assert_error(r, 400)
        assert error["errors"].keys() == {"body"}, error


@pytest.mark.parametrize("value", ["a\u0000b", "\ud800"], ids=["nul", "lone-surrogate"])
def test_text_that_cannot_be_stored_is_refused_with_its_field(
    make: Builders, world: World, value: str
) -> None:
    url = f"/v1/patients/{world.patient_id}"
    r = make.client.patch(url, json={"name": value}, headers=world.doc.headers)
    assert "name" in assert_error(r, 422)["errors"]
    r = make.client.post(
        "/v1/interactions/check",
        json={"drugs": ["diazepam", value]},
        headers=world.doc.headers,
    )
    assert "drugs.1" in assert_error(r, 422)["errors"]


# --- Refusals on a patient's objects land in that patient's audit trail ---------------


def test_refusals_on_doses_plans_and_prescriptions_are_filed_under_the_patient(
    make: Builders, world: World
) -> None:
    pid, own = world.patient_id, world.other_patient.patient_id
    attempts = [
        ("post", f"/v1/doses/{world.dose_id}/taken", {}),
        ("post", f"/v1/doses/{world.dose_id}/skipped", {}),
        ("post", f"/v1/doses/{world.dose_id}/snooze", {"minutes": 10}),
        ("get", f"/v1/taper-plans/{world.plan_id}", None),
        ("get", f"/v1/taper-plans/{world.plan_id}/chart.svg", None),
        ("post", f"/v1/taper-plans/{world.plan_id}/step-back", {"reason": "probe"}),
        # Another patient's prescription reached through a patient of one's own.
        ("get", f"/v1/patients/{own}/prescriptions/{world.rx_id}", None),
        ("post", f"/v1/patients/{own}/prescriptions/{world.rx_id}/prn-doses", {}),
    ]
    for method, url, body in attempts:
        r = getattr(make.client, method)(url, json=body, headers=world.outsider.headers)
        assert r.status_code in (403, 404), (url, r.status_code, r.json)
        assert f"{r.status_code} {method.upper()} {url}" in _denied(make, world, pid), url


def test_a_refusal_with_a_nul_in_the_path_is_recorded(make: Builders, world: World) -> None:
    r = make.client.get("/v1/drugs/a%00b", headers=world.patient.headers)
    assert_error(r, 404)
    with make.database.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT outcome_desc FROM audit_events WHERE subtype = 'access.denied'")
        ).scalars()
        assert "404 GET /v1/drugs/a\\x00b" in list(stored)


def test_a_refusal_that_cannot_be_recorded_fails_the_request(
    make: Builders, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise DataError("INSERT INTO audit_events ...", {}, ValueError("refused"))

    monkeypatch.setattr(audit, "record", refuse)
    r = make.client.get(f"/v1/taper-plans/{world.plan_id}", headers=world.outsider.headers)
    assert_error(r, 500)


# --- Device URLs and takeovers ---------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://\uff11\uff12\uff17.0.0.1/hook",  # full-width digits
        "https://127\u30020\u30020\u30021/hook",  # ideographic full stops
        "https://127\uff0e0\uff0e0\uff0e1/hook",  # full-width full stops
        "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/hook",  # localhost
        "https://224.0.0.1/hook",
        "https://239.255.255.250/hook",
        "https://[ff02::1]/hook",
        "https://hooks.example.org:0/hook",
        "https://hooks.example.org:99999/hook",
        "https://[::1/hook",
    ],
)
def test_disguised_local_multicast_and_port_zero_endpoints_are_refused(
    make: Builders, world: World, endpoint: str
) -> None:
    body = {"platform": "webhook", "endpoint": endpoint}
    r = make.client.post("/v1/me/devices", json=body, headers=world.patient.headers)
    assert "endpoint" in assert_error(r, 422)["errors"]


def test_a_device_of_another_account_is_not_taken_and_both_trails_say_so(
    make: Builders, world: World, count_rows: Any
) -> None:
    thief = world.other_patient
    body = {"platform": "fcm", "token": FCM_TOKEN}
    for _ in range(3):
        r = make.client.post("/v1/me/devices", json=body, headers=thief.headers)
        assert "token" in assert_error(r, 409)["errors"]
    mine = make.client.get("/v1/me/devices", headers=world.patient.headers).json
    assert [d["id"] for d in mine] == [world.device_id]  # type: ignore[union-attr]
    assert make.client.get("/v1/me/devices", headers=thief.headers).json == []
    for patient_id, reader in (
        (world.patient_id, world.doc),
        (thief.patient_id, world.outsider),
    ):
        trail = make.client.get(f"/v1/patients/{patient_id}/audit", headers=reader.headers).json
        entries = [e for e in trail if e["subtype"] == "device.takeover"]  # type: ignore[union-attr]
        assert len(entries) == 3, patient_id
        assert entries[0]["agent"]["who"] == str(thief.id)
    with make.database.engine.connect() as conn:
        told = conn.execute(
            text("SELECT recipient_id FROM notifications WHERE kind = 'device-taken'")
        ).scalars()
        # Every attempt is audited; the owner is told once a day, not flooded.
        assert [str(u) for u in told] in ([str(world.patient.id)], [world.patient.id.hex])


# --- Time zones ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone",
    ["localtime", "Factory", "posixrules", "/etc/localtime", "../zoneinfo/UTC", "posix/UTC"],
)
def test_only_iana_places_are_time_zones(make: Builders, world: World, zone: str) -> None:
    assert not is_valid_timezone(zone)
    url = f"/v1/patients/{world.patient_id}"
    r = make.client.patch(url, json={"timezone": zone}, headers=world.doc.headers)
    assert "timezone" in assert_error(r, 422)["errors"]


@pytest.mark.parametrize("zone", ["Europe/London", "UTC", "Etc/GMT+5", "US/Eastern"])
def test_iana_names_and_links_are_time_zones(zone: str) -> None:
    assert is_valid_timezone(zone)


# --- The webhook in production ------------------------------------------------------------


def test_production_refuses_a_plain_http_webhook() -> None:
    env = {
        "MEDTRACK_ENV": "production",
        "MEDTRACK_SECRET_KEY": uuid.uuid4().hex * 2,
        "MEDTRACK_WEBHOOK_URL": "http://hooks.example.org/medtrack",
    }
    with pytest.raises(SettingsError, match="MEDTRACK_WEBHOOK_URL"):
        Settings.from_env(env)
    env["MEDTRACK_WEBHOOK_URL"] = "https://hooks.example.org/medtrack"
    assert Settings.from_env(env).webhook_url == env["MEDTRACK_WEBHOOK_URL"]
    Settings.from_env({**env, "MEDTRACK_ENV": "development", "MEDTRACK_WEBHOOK_URL": "http://x"})
