"""The webhook adapter against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import pytest

from service.notify.base import DeliveryError, Device
from service.notify.webhook import WebhookNotifier
from tests.notify.conftest import ANDROID_FID, make_message
from tests.notify.fake_http import Recorded, Reply, Serve, closed_port_url

SECRET = "whsec-" + "k" * 26
NOW = 1_743_314_400  # 2025-03-30T06:00:00Z


def ok(_: Recorded) -> Reply:
    return Reply(status=202)


Build = Callable[..., WebhookNotifier]


@pytest.fixture
def webhook() -> Iterator[Build]:
    """Builds notifiers with a fixed clock (NOW and a fraction); closes them afterwards."""
    made: list[WebhookNotifier] = []

    def build(url: str, *, timeout: float = 2.0) -> WebhookNotifier:
        notifier = WebhookNotifier(
            url=url, secret=SECRET, timeout_seconds=timeout, clock=lambda: NOW + 0.75
        )
        made.append(notifier)
        return notifier

    yield build
    for notifier in made:
        notifier.close()


def test_posts_signed_compact_json(webhook: Build, serve: Serve) -> None:
    message = make_message(detailed=True)
    receiver = serve(ok)
    report = webhook(receiver.url + "/hooks/medtrack").send(message)

    assert "202" in report.detail
    assert report.gone_devices == ()
    [request] = receiver.requests
    assert request.path == "/hooks/medtrack"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == message.idempotency_key
    assert request.headers["X-Medtrack-Timestamp"] == str(NOW)
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Medtrack-Signature"], f"sha256={expected}")
    payload = json.loads(request.body)
    assert payload == {
        "sent_at": NOW,
        "idempotency_key": message.idempotency_key,
        "kind": "dose-reminder",
        "patient_id": "patient-ada",
        "recipient_id": "user-ada",
        "title": message.title,
        "body": message.body,
        "data": dict(message.data),
    }
    assert request.body == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert ANDROID_FID.encode() not in request.body


def test_signature_does_not_verify_with_another_secret(
    webhook: Build,
    serve: Serve,
) -> None:
    receiver = serve(ok)
    webhook(receiver.url).send(make_message())
    [request] = receiver.requests
    wrong = hmac.new(b"another-secret-value", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Medtrack-Signature"] != f"sha256={wrong}"


def test_503_is_transient_and_the_retry_repeats_the_key(
    webhook: Build,
    serve: Serve,
) -> None:
    replies = iter([Reply(status=503, body=b"maintenance"), Reply(status=200)])
    receiver = serve(lambda _: next(replies))
    notifier = webhook(receiver.url)
    with pytest.raises(DeliveryError) as failed:
        notifier.send(make_message())
    report = notifier.send(make_message())

    assert failed.value.transient
    assert "503" in failed.value.message
    assert "200" in report.detail
    first, second = receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.body == second.body


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    # An HTTP date already past means "retry now".
    [("30", 30.0), ("Sun, 30 Mar 2025 06:02:00 GMT", 0.0), (None, None)],
)
def test_429_is_transient_with_retry_after(
    webhook: Build,
    retry_after: str | None,
    expected: float | None,
    serve: Serve,
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    receiver = serve(lambda _: Reply(status=429, headers=headers))
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url).send(make_message())
    assert failed.value.transient
    assert failed.value.retry_after == expected


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_other_4xx_is_permanent(webhook: Build, status: int, serve: Serve) -> None:
    receiver = serve(lambda _: Reply(status=status, body=b"bad payload"))
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url).send(make_message())
    assert not failed.value.transient
    assert failed.value.retry_after is None
    assert str(status) in failed.value.message


def test_408_is_transient(webhook: Build, serve: Serve) -> None:
    receiver = serve(lambda _: Reply(status=408))
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url).send(make_message())
    assert failed.value.transient


def test_redirect_is_not_followed(webhook: Build, serve: Serve) -> None:
    moved = Reply(status=307, headers={"Location": "http://127.0.0.1:9/elsewhere"})
    receiver = serve(lambda _: moved)
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url).send(make_message())
    assert not failed.value.transient
    assert len(receiver.requests) == 1


def test_receiver_down_is_transient(webhook: Build) -> None:
    with pytest.raises(DeliveryError) as failed:
        webhook(closed_port_url()).send(make_message())
    assert failed.value.transient
    assert "unreachable" in failed.value.message


def test_slow_receiver_times_out_as_transient(webhook: Build, serve: Serve) -> None:
    receiver = serve(lambda _: Reply(status=200, delay_seconds=1.0))
    started = time.monotonic()
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url, timeout=0.3).send(make_message())
    elapsed = time.monotonic() - started
    assert failed.value.transient
    assert "timed out" in failed.value.message
    assert elapsed < 0.9


def test_unserialisable_data_is_permanent(webhook: Build, serve: Serve) -> None:
    receiver = serve(ok)
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url).send(make_message(data={"when": object()}))
    assert not failed.value.transient
    assert receiver.requests == []


def test_error_messages_never_carry_the_secret(webhook: Build, serve: Serve) -> None:
    receiver = serve(lambda _: Reply(status=500, body=b"boom"))
    with pytest.raises(DeliveryError) as failed:
        webhook(receiver.url).send(make_message())
    assert SECRET not in str(failed.value)


def test_each_webhook_device_on_the_gateway_gets_the_message_at_its_route(
    webhook: Build, serve: Serve
) -> None:
    gateway = serve(ok)
    routes = tuple(
        Device(id=f"hook-{n}", platform="webhook", endpoint=f"{gateway.url}/route/{n}")
        for n in (1, 2)
    )
    elsewhere = Device(id="hook-x", platform="webhook", endpoint="https://evil.example/x")
    report = webhook(gateway.url + "/hooks").send(make_message(devices=(*routes, elsewhere)))
    assert sorted(r.path for r in gateway.requests) == ["/route/1", "/route/2"]
    assert "hook-1" in report.detail
    assert "hook-2" in report.detail
    signed = [
        hmac.new(SECRET.encode(), r.body, hashlib.sha256).hexdigest() for r in gateway.requests
    ]
    assert [r.headers["X-Medtrack-Signature"] for r in gateway.requests] == [
        f"sha256={s}" for s in signed
    ]


def test_discreet_webhook_bodies_leave_the_patient_id_out(webhook: Build, serve: Serve) -> None:
    receiver = serve(ok)
    webhook(receiver.url + "/hooks").send(make_message(detailed=False))
    body = json.loads(receiver.requests[0].body)
    assert "patient_id" not in body
    assert body["recipient_id"] == "user-ada"
