"""Every HTTP channel ends a send at its total deadline, however the receiver trickles.

The receiver (slow_drip.DripServer) answers at once and then sends one byte every
0.3 s: no single read ever waits long, so only a deadline on the whole exchange stops
the sender. Each test bounds the send at its deadline plus a little.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.notify.base import DeliveryError
from service.notify.deadline import deadline
from service.notify.fcm import FcmNotifier
from service.notify.webhook import WebhookNotifier
from service.notify.webpush import WebPushNotifier
from tests.notify.conftest import make_message
from tests.notify.slow_drip import BODY_DRIP, HEADERS_DRIP, Dripped, DripServer
from tests.notify.test_fcm import SEND_PATH, service_account
from tests.notify.test_webpush import SUBJECT, Browser, b64url

DEADLINE = 1.0
# Thread scheduling and the watchdog's wake-up: the send ends this soon after its deadline.
SLACK = 0.6


@pytest.fixture
def drip() -> Iterator[Callable[..., DripServer]]:
    servers: list[DripServer] = []

    def start(**options: object) -> DripServer:
        server = DripServer(**options).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def timed(send: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result: object = send()
    except DeliveryError as exc:
        result = exc
    return time.monotonic() - started, result


@pytest.mark.parametrize("answer", [HEADERS_DRIP, BODY_DRIP], ids=["headers", "body"])
def test_a_webhook_that_trickles_is_cut_at_the_deadline(
    answer: tuple[bytes, bytes], drip: Callable[..., DripServer]
) -> None:
    server = drip(answer=lambda _: answer)
    notifier = WebhookNotifier(url=server.url + "/hooks", secret="s" * 32, timeout_seconds=DEADLINE)
    try:
        elapsed, result = timed(lambda: notifier.send(make_message()))
    finally:
        notifier.close()
    assert elapsed < DEADLINE + SLACK, f"held {elapsed:.2f} s by a trickling receiver"
    if answer is HEADERS_DRIP:
        assert isinstance(result, DeliveryError), result
        assert result.transient
        assert "timed out" in result.message
    else:
        # The status said 200: the message is delivered, the rest of the answer unread.
        assert not isinstance(result, DeliveryError), result
    assert len(server.requests) == 1


def test_a_push_service_that_trickles_is_cut_at_the_deadline(
    drip: Callable[..., DripServer],
) -> None:
    server = drip()
    raw = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    notifier = WebPushNotifier(
        vapid_private_key=b64url(raw.to_bytes(32, "big")),
        vapid_subject=SUBJECT,
        timeout_seconds=DEADLINE,
    )
    device = Browser.new().device("dev-web", server.url + "/push/sub-1")
    try:
        elapsed, result = timed(lambda: notifier.send(make_message(devices=(device,))))
    finally:
        notifier.close()
    assert elapsed < DEADLINE + SLACK, f"held {elapsed:.2f} s by a trickling push service"
    assert isinstance(result, DeliveryError), result
    assert result.transient
    assert "timed out" in result.message


def test_fcm_that_trickles_is_cut_at_the_deadline(
    drip: Callable[..., DripServer], tmp_path: Path
) -> None:
    def answer(request: Dripped) -> tuple[bytes, bytes]:
        if request.path == SEND_PATH:
            return BODY_DRIP
        token = json.dumps({"access_token": "ya29.t", "expires_in": 3600, "token_type": "Bearer"})
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(token)}"
        return f"{head}\r\n\r\n{token}".encode(), b""

    server = drip(answer=answer)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    notifier = FcmNotifier(
        credentials_file=service_account(tmp_path, key, server.url + "/token"),
        endpoint=server.url,
        timeout_seconds=DEADLINE,
    )
    message = make_message(devices=make_message().devices[1:2])
    try:
        elapsed, result = timed(lambda: notifier.send(message))
    finally:
        notifier.close()
    assert elapsed < DEADLINE + SLACK, f"held {elapsed:.2f} s by a trickling FCM"
    assert isinstance(result, DeliveryError), result
    assert result.transient
    assert [r.path for r in server.requests] == ["/token", SEND_PATH]


def test_an_inner_deadline_never_outlives_the_outer_one(drip: Callable[..., DripServer]) -> None:
    server = drip()
    notifier = WebhookNotifier(url=server.url, secret="s" * 32, timeout_seconds=5.0)
    try:
        with deadline(0.5):
            elapsed, result = timed(lambda: notifier.send(make_message()))
    finally:
        notifier.close()
    assert elapsed < 0.5 + SLACK
    assert isinstance(result, DeliveryError), result
    assert result.transient
