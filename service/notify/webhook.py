"""Webhook notifier: POST each message as signed JSON to the operator's gateway.

Where: the configured URL (MEDTRACK_WEBHOOK_URL) is the gateway. A recipient's
`webhook` devices are routes on that gateway (same scheme, host and port; registration
refuses any other, service.notify.channels.Reach), and each gets the message at its
own URL; a recipient with no such route gets it at the configured URL. A device URL
on any other origin is never called, so a stored URL cannot make the service send
health information anywhere but the operator's own server.

What is sent:

- Body: `{"body", "data", "idempotency_key", "kind", "recipient_id", "sent_at",
  "title"}`, plus `"patient_id"` when the patient chose detailed notifications (under
  the default discreet privacy the title, body and data name no drug or dose and
  carry ids only, exactly as on a push channel), as compact JSON (separators ","
  and ":", sorted keys, ASCII only). `sent_at` is the Unix time in whole seconds of
  this attempt. The body is serialised once per attempt and those exact bytes are
  both sent and signed; a receiver must verify the raw bytes it received, never a
  re-serialisation.
- `Idempotency-Key`: the message's idempotency key. A retry (after a timeout, say)
  repeats it, so the receiver can drop the duplicate.
- `X-Medtrack-Signature`: `sha256=` + lowercase hex HMAC-SHA256 of the body bytes,
  keyed with the webhook secret (its UTF-8 bytes). Because `sent_at` is inside the
  signed body, a receiver can refuse a captured request replayed later (reject when
  it is more than a few minutes old); the idempotency key handles honest retries.
  Compare signatures in constant time.
- `X-Medtrack-Timestamp`: the same `sent_at`, for receivers that log headers.

Outcomes: 2xx is delivered (the body of a 2xx answer is not read). 408, 429, 5xx,
connection failures and timeouts are transient (Retry-After honoured). The timeout is a
total deadline on the whole exchange (service.notify.deadline), and a URL whose circuit
is open (service.notify.breaker) is not tried: the message is deferred. Redirects are
not followed (a redirected POST would lose its body and signature) and, like other 4xx,
are permanent. With several routes, the message counts as delivered when one
accepted it (service.notify.fanout); each route's host has its own circuit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import requests

from service.notify.base import DeliveryError, DeliveryReport, Device, Message
from service.notify.breaker import CircuitBreaker, endpoint_key, guarded
from service.notify.channels import origin
from service.notify.deadline import deadline, mount
from service.notify.errors import deadline_error, error_for_request_failure, error_for_status
from service.notify.fanout import fan_out

PLATFORM = "webhook"
SIGNATURE_HEADER = "X-Medtrack-Signature"
TIMESTAMP_HEADER = "X-Medtrack-Timestamp"
USER_AGENT = "medtrack-notify/1"
# A receiver's answer is not read past this (its status is what counts).
MAX_ANSWER_BYTES = 65536


def encode_body(message: Message, *, sent_at: int) -> bytes:
    """The exact bytes sent and signed. Raises DeliveryError if `data` is not JSON-able."""
    payload: dict[str, object] = {
        "sent_at": sent_at,
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "recipient_id": message.recipient_id,
        "title": message.title,
        "body": message.body,
        "data": dict(message.data),
    }
    if message.detailed:
        payload["patient_id"] = message.patient_id
    try:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DeliveryError(
            f"message data is not JSON-serialisable: {exc}", transient=False
        ) from exc
    return text.encode("ascii")


def sign(secret: str, body: bytes) -> str:
    """The X-Medtrack-Signature value: HMAC-SHA256 of exactly the body bytes."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """One pooled HTTP session, safe to share between dispatcher threads."""

    name = "webhook"
    concurrent = True

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._url = url
        self._origin = origin(url)
        self._secret = secret
        # The whole exchange, connect to last byte: a receiver that accepts the
        # connection and trickles its answer must not hold the dispatcher longer than
        # one that refuses it.
        self._timeout = timeout_seconds
        self._clock = clock
        self._breaker = breaker
        self._session = mount(requests.Session())
        self._session.headers["User-Agent"] = USER_AGENT

    def send(self, message: Message) -> DeliveryReport:
        routes = [device for device in message.devices if self._route(device)]
        if not routes:
            return self._guarded(self._url, message)
        return fan_out(
            routes,
            lambda device: self._guarded(str(device.endpoint), message).detail,
            channel="webhook",
        )

    def _route(self, device: Device) -> bool:
        """A webhook device whose URL is on the configured gateway."""
        return (
            device.platform == PLATFORM
            and bool(device.endpoint)
            and origin(str(device.endpoint)) == self._origin
        )

    def _guarded(self, url: str, message: Message) -> DeliveryReport:
        return guarded(
            self._breaker,
            endpoint_key(url),
            lambda: self._post(url, message),
            slow_after=self._timeout / 2,
        )

    def _post(self, url: str, message: Message) -> DeliveryReport:
        sent_at = int(self._clock())
        body = encode_body(message, sent_at=sent_at)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            TIMESTAMP_HEADER: str(sent_at),
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        with deadline(self._timeout) as budget:
            try:
                # stream: the status decides; the body is read only to keep the
                # connection, and only until the deadline.
                response = self._session.post(
                    url, data=body, headers=headers, allow_redirects=False, stream=True
                )
                with response:
                    if 200 <= response.status_code < 300:
                        return _accepted(response)
                    raise error_for_status(
                        response.status_code,
                        retry_after=response.headers.get("Retry-After"),
                        what="webhook",
                        detail=_head(response),
                    )
            except requests.RequestException as exc:
                if budget.expired:
                    raise deadline_error(what="webhook", seconds=self._timeout) from exc
                raise error_for_request_failure(exc, what="webhook") from exc

    def close(self) -> None:
        self._session.close()


def _accepted(response: requests.Response) -> DeliveryReport:
    """A 2xx is a delivery even if its body never ends: the receiver has the message,
    and sending it again would only repeat it (the breaker still counts the time)."""
    detail = f"webhook HTTP {response.status_code}"
    read = 0
    try:
        for chunk in response.iter_content(8192):
            read += len(chunk)
            if read > MAX_ANSWER_BYTES:
                break  # closed, not drained: the connection is dropped
    except requests.RequestException:
        return DeliveryReport(detail=f"{detail}, answer cut at the deadline")
    return DeliveryReport(detail=detail)


def _head(response: requests.Response) -> str:
    """The start of an error answer, for the outbox's last_error; never all of it."""
    first = next(response.iter_content(1024), b"")
    return first.decode("utf-8", errors="replace") if isinstance(first, bytes) else str(first)
