"""API10 Unsafe Consumption of APIs: the services medtrack calls are not trusted blindly.

Each notifier times out, follows no redirect, classifies every status (2xx delivered;
408, 429, 5xx retried with a capped Retry-After; the rest permanent) and keeps response
text out of its errors beyond 200 characters. The webhook adapter's redirect and timeout
tests are in tests/notify/test_webhook.py, FCM's in tests/notify/test_fcm.py, the
classification in tests/notify/test_errors.py; Web Push is here. Imported interaction
datasets are checked row by row (tests/integration/test_interaction_import.py).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.notify.base import DeliveryError, Device
from service.notify.webpush import WebPushNotifier
from tests.notify.conftest import make_message
from tests.notify.fake_http import FakeServer, Recorded, Reply, Responder


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _subscription(endpoint: str) -> Device:
    browser = ec.generate_private_key(ec.SECP256R1())
    point = browser.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    keys = {"p256dh": _b64url(point), "auth": _b64url(b"0123456789abcdef")}
    return Device(id="dev-web", platform="webpush", endpoint=endpoint, keys=keys)


@pytest.fixture
def notifier() -> Iterator[WebPushNotifier]:
    key = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    made = WebPushNotifier(
        vapid_private_key=_b64url(key.to_bytes(32, "big")),
        vapid_subject="mailto:ops@medtrack.example",
        timeout_seconds=0.5,
    )
    yield made
    made.close()


@pytest.fixture
def servers() -> Iterator[list[FakeServer]]:
    started: list[FakeServer] = []
    yield started
    for server in started:
        server.stop()


def _serve(servers: list[FakeServer], respond: Responder) -> FakeServer:
    server = FakeServer(respond)
    server.start()
    servers.append(server)
    return server


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_push_service_redirect_is_not_followed(
    notifier: WebPushNotifier, servers: list[FakeServer], status: int
) -> None:
    elsewhere = _serve(servers, lambda _: Reply(status=201))
    moved = Reply(status=status, headers={"Location": elsewhere.url + "/collect"})
    push_service = _serve(servers, lambda _: moved)
    device = _subscription(push_service.url + "/push/sub-1")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert not failed.value.transient
    assert len(push_service.requests) == 1
    assert elsewhere.requests == []


def test_a_push_service_that_does_not_answer_times_out(
    notifier: WebPushNotifier, servers: list[FakeServer]
) -> None:
    push_service = _serve(servers, lambda _: Reply(status=201, delay_seconds=2.0))
    device = _subscription(push_service.url + "/push/sub-1")
    started = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert failed.value.transient
    assert time.monotonic() - started < 3


def test_a_push_service_error_body_is_cut_short(
    notifier: WebPushNotifier, servers: list[FakeServer]
) -> None:
    def chatty(_: Recorded) -> Reply:
        return Reply(status=400, body=b"<html>" + b"x" * 100_000)

    push_service = _serve(servers, chatty)
    device = _subscription(push_service.url + "/push/sub-1")
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message(devices=(device,)))
    assert not failed.value.transient
    assert len(failed.value.message) < 400
