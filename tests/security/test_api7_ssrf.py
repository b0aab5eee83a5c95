"""API7 Server Side Request Forgery: the only URLs a user supplies are device endpoints.

The webhook URL, the FCM endpoint and the VAPID contact are operator settings. A Web
Push endpoint must be https on a known push service; a webhook device's endpoint must
be https and public; neither may name a loopback, private, link-local or otherwise
non-public address in any spelling. The webhook notifier posts only to the configured
URL, whatever endpoint a device carries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.notify.base import Device
from service.notify.webhook import WebhookNotifier
from tests.conftest import Account, Builders
from tests.notify.conftest import make_message
from tests.notify.fake_http import FakeServer, Recorded, Reply
from tests.security.world import assert_error

KEYS = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}
NOT_PUBLIC = [
    "https://127.0.0.1/hook",
    "https://127.1/hook",
    "https://2130706433/hook",
    "https://0x7f.0.0.1/hook",
    "https://0/hook",
    "https://localhost/hook",
    "https://api.localhost./hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10:8443/hook",
    "https://100.64.0.1/hook",
    "https://[fd00::1]/hook",
    "https://[::127.0.0.1]/hook",
    "https://[64:ff9b::7f00:1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",
    "https://[2002:7f00:1::]/hook",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
]


@pytest.fixture
def patient(make: Builders) -> Account:
    return make.patient(make.clinician())


def _devices(make: Builders, who: Account) -> list[object]:
    return make.client.get("/v1/me/devices", headers=who.headers).json  # type: ignore[return-value]


@pytest.mark.parametrize("platform", ["webhook", "webpush"])
@pytest.mark.parametrize("endpoint", NOT_PUBLIC)
def test_endpoints_on_local_or_private_addresses_are_refused(
    make: Builders, patient: Account, platform: str, endpoint: str
) -> None:
    body = {"platform": platform, "endpoint": endpoint}
    if platform == "webpush":
        body["keys"] = KEYS  # type: ignore[assignment]
    r = make.client.post("/v1/me/devices", json=body, headers=patient.headers)
    assert "endpoint" in assert_error(r, 422)["errors"]
    assert _devices(make, patient) == []


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://push.example.org/sub/1",
        "https://fcm.googleapis.com.attacker.example/sub/1",
        "http://fcm.googleapis.com/fcm/send/sub-1",
        "https://user:pw@fcm.googleapis.com/fcm/send/sub-1",
    ],
)
def test_web_push_goes_only_to_known_push_services_over_https(
    make: Builders, patient: Account, endpoint: str
) -> None:
    body = {"platform": "webpush", "endpoint": endpoint, "keys": KEYS}
    r = make.client.post("/v1/me/devices", json=body, headers=patient.headers)
    assert "endpoint" in assert_error(r, 422)["errors"]
    assert _devices(make, patient) == []


def test_public_endpoints_are_accepted(make: Builders, patient: Account) -> None:
    """Control: the same checks let real endpoints through."""
    for body in (
        {"platform": "webpush", "endpoint": "https://fcm.googleapis.com/fcm/send/s1", "keys": KEYS},
        {"platform": "webhook", "endpoint": "https://hooks.example.org/medtrack"},
        {"platform": "webhook", "endpoint": "https://8.8.8.8/medtrack"},
    ):
        r = make.client.post("/v1/me/devices", json=body, headers=patient.headers)
        assert r.status_code == 201, r.json
    assert len(_devices(make, patient)) == 3


def test_control_characters_in_an_endpoint_are_refused(make: Builders, patient: Account) -> None:
    body = {"platform": "webhook", "endpoint": "https://hooks.example.org/\x00admin"}
    r = make.client.post("/v1/me/devices", json=body, headers=patient.headers)
    assert "endpoint" in assert_error(r, 422)["errors"]


@pytest.fixture
def two_servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    configured, device = FakeServer(_accept), FakeServer(_accept)
    configured.start()
    device.start()
    yield configured, device
    configured.stop()
    device.stop()


def _accept(_: Recorded) -> Reply:
    return Reply(status=204)


def test_the_webhook_notifier_posts_only_to_the_configured_url(
    two_servers: tuple[FakeServer, FakeServer],
) -> None:
    configured, device_server = two_servers
    hook = Device(id="dev-hook", platform="webhook", endpoint=device_server.url + "/steal")
    notifier = WebhookNotifier(url=configured.url + "/hooks", secret="s" * 32, timeout_seconds=2)
    try:
        notifier.send(make_message(devices=(hook,)))
    finally:
        notifier.close()
    assert [r.path for r in configured.requests] == ["/hooks"]
    assert device_server.requests == []
