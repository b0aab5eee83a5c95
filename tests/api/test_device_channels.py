"""Registering a device where only some channels run: a platform whose channel is not
configured is refused naming `platform` and what can be registered; a webhook device
must be a route on the configured gateway."""

from __future__ import annotations

import pytest

from service.config import Settings
from tests.conftest import Builders, settings_for

KEYS = {"p256dh": "B" + "A" * 86, "auth": "c" * 22}
WEBPUSH = {
    "platform": "webpush",
    "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/abc",
    "keys": KEYS,
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(
        database_url,
        notifiers="fcm,webhook",
        webhook_url="https://gateway.example.org/hooks",
        webhook_secret="s" * 32,
    )


def test_a_platform_without_its_channel_is_refused_naming_the_configured_ones(
    make: Builders,
) -> None:
    pat = make.patient(make.clinician())
    r = make.client.post("/v1/me/devices", json=WEBPUSH, headers=pat.headers)
    assert r.status_code == 422, r.get_json()
    (reason,) = r.json["errors"]["platform"]
    assert "No webpush channel" in reason
    assert reason.endswith("fcm, apns, webhook.")
    assert make.client.get("/v1/me/devices", headers=pat.headers).json == []


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "fcm", "token": "dAndroidFid0123456789_"},
        {"platform": "apns", "token": "eIphoneFid-0123456789A"},
        {"platform": "webhook", "endpoint": "https://gateway.example.org/route/ada"},
    ],
)
def test_devices_of_configured_channels_are_registered(
    make: Builders, body: dict[str, str]
) -> None:
    pat = make.patient(make.clinician())
    r = make.client.post("/v1/me/devices", json=body, headers=pat.headers)
    assert r.status_code == 201, r.get_json()


def test_a_webhook_device_elsewhere_than_the_gateway_is_refused(make: Builders) -> None:
    pat = make.patient(make.clinician())
    body = {"platform": "webhook", "endpoint": "https://hooks.example.net/medtrack"}
    r = make.client.post("/v1/me/devices", json=body, headers=pat.headers)
    assert r.status_code == 422, r.get_json()
    assert "gateway.example.org" in r.json["errors"]["endpoint"][0]
