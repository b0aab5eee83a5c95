"""The Web Push adapter against a fake push service on 127.0.0.1.

The test plays both ends: it generates the server's VAPID key pair and a browser's
subscription (P-256 key pair plus auth secret), then decrypts what the push service
received with the browser's private key, as the browser would.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import http_ece  # type: ignore[import-untyped]
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.notify.base import DeliveryError, Device
from service.notify.webpush import WebPushNotifier, topic_for
from tests.notify.conftest import make_message
from tests.notify.fake_http import Recorded, Reply, Responder, Serve, closed_port_url

SUBJECT = "mailto:ops@medtrack.example"


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@dataclass(frozen=True)
class Browser:
    """One subscription, as PushManager.subscribe() would create it."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    @classmethod
    def new(cls) -> Browser:
        return cls(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))

    def device(self, device_id: str, endpoint: str) -> Device:
        keys = {"p256dh": b64url(point(self.private_key.public_key())), "auth": b64url(self.auth)}
        return Device(id=device_id, platform="webpush", endpoint=endpoint, keys=keys)

    def decrypt(self, body: bytes) -> bytes:
        plain: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return plain


@pytest.fixture(scope="module")
def vapid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def notifier(vapid_key: ec.EllipticCurvePrivateKey) -> Iterator[WebPushNotifier]:
    raw = vapid_key.private_numbers().private_value.to_bytes(32, "big")
    made = WebPushNotifier(
        vapid_private_key=b64url(raw), vapid_subject=SUBJECT, timeout_seconds=2.0
    )
    yield made
    made.close()


def by_path(replies: dict[str, Reply]) -> Responder:
    """Answer per subscription path; unknown paths are accepted (201 Created)."""
    return lambda request: replies.get(request.path, Reply(status=201))


def test_sends_an_encrypted_vapid_signed_push(
    notifier: WebPushNotifier,
    vapid_key: ec.EllipticCurvePrivateKey,
    serve: Serve,
) -> None:
    browser = Browser.new()
    push_service = serve(lambda _: Reply(status=201))
    device = browser.device("dev-web", push_service.url + "/push/sub-1")
    message = make_message(devices=(device, *make_message().devices[1:]))
    report = notifier.send(message)

    assert report.gone_devices == ()
    assert "dev-web" in report.detail
    [request] = push_service.requests
    assert request.path == "/push/sub-1"
    assert request.headers["Content-Encoding"] == "aes128gcm"
    assert request.headers["TTL"] == "3600"
    assert request.headers["Urgency"] == "high"
    assert request.headers["Topic"] == topic_for(message.idempotency_key)
    assert len(request.headers["Topic"]) <= 32
    assert json.loads(browser.decrypt(request.body)) == {
        "idempotency_key": message.idempotency_key,
        "kind": "dose-reminder",
        "title": message.title,
        "body": message.body,
        "data": dict(message.data),
    }
    assert_vapid(request, vapid_key, audience=push_service.url)


def assert_vapid(request: Recorded, key: ec.EllipticCurvePrivateKey, *, audience: str) -> None:
    """RFC 8292: `vapid t=<JWT signed with ES256>,k=<public key>`."""
    scheme, params = request.headers["Authorization"].split(" ", 1)
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == b64url(point(key.public_key()))
    claims = jwt.decode(fields["t"], key.public_key(), algorithms=["ES256"], audience=audience)
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


def test_gone_subscription_is_reported_while_others_deliver(
    notifier: WebPushNotifier, serve: Serve
) -> None:
    server = serve(by_path({"/push/old": Reply(status=410)}))
    devices = (
        Browser.new().device("dev-old", server.url + "/push/old"),
        Browser.new().device("dev-new", server.url + "/push/new"),
    )
    report = notifier.send(make_message(devices=devices))
    assert report.gone_devices == ("dev-old",)
    assert "dev-new" in report.detail
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [404, 410])
def test_every_subscription_gone_is_a_permanent_error_naming_them(
    notifier: WebPushNotifier,
    status: int,
    serve: Serve,
) -> None:
    push_service = serve(lambda _: Reply(status=status))
    device = Browser.new().device("dev-old", push_service.url + "/push/old")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert not failed.value.transient
    assert failed.value.gone_devices == ("dev-old",)


def test_rate_limit_is_transient_with_retry_after(notifier: WebPushNotifier, serve: Serve) -> None:
    limited = Reply(status=429, headers={"Retry-After": "120"})
    push_service = serve(lambda _: limited)
    device = Browser.new().device("dev-web", push_service.url + "/push/sub-1")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert failed.value.transient
    assert failed.value.retry_after == 120.0


def test_server_error_is_transient(notifier: WebPushNotifier, serve: Serve) -> None:
    push_service = serve(lambda _: Reply(status=500))
    device = Browser.new().device("dev-web", push_service.url + "/push/sub-1")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert failed.value.transient


def test_bad_request_is_permanent(notifier: WebPushNotifier, serve: Serve) -> None:
    push_service = serve(lambda _: Reply(status=400, body=b"bad crypto"))
    device = Browser.new().device("dev-web", push_service.url + "/push/sub-1")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert not failed.value.transient


def test_unreachable_push_service_is_transient(notifier: WebPushNotifier) -> None:
    device = Browser.new().device("dev-web", closed_port_url() + "/push/sub-1")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert failed.value.transient


def test_no_webpush_device_is_a_permanent_no_device_error(notifier: WebPushNotifier) -> None:
    fcm_only = tuple(d for d in make_message().devices if d.platform != "webpush")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=fcm_only))
    assert not failed.value.transient
    assert "no webpush device" in failed.value.message


@pytest.mark.parametrize(
    "keys", [{}, {"p256dh": "not-a-point", "auth": "c2VjcmV0"}, {"auth": "c2VjcmV0"}]
)
def test_malformed_subscription_is_permanent_and_sends_nothing(
    notifier: WebPushNotifier,
    keys: dict[str, str],
    serve: Serve,
) -> None:
    push_service = serve(lambda _: Reply(status=201))
    device = Device(id="dev-web", platform="webpush", endpoint=push_service.url, keys=keys)
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert not failed.value.transient
    assert failed.value.gone_devices == ()
    assert push_service.requests == []


def test_one_transient_failure_among_gone_devices_stays_transient(
    notifier: WebPushNotifier,
    serve: Serve,
) -> None:
    replies = {"/push/old": Reply(status=410), "/push/busy": Reply(status=503)}
    server = serve(by_path(replies))
    devices = (
        Browser.new().device("dev-old", server.url + "/push/old"),
        Browser.new().device("dev-busy", server.url + "/push/busy"),
    )
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=devices))
    assert failed.value.transient
    assert failed.value.gone_devices == ("dev-old",)
