"""Web Push notifier (RFC 8030 delivery, RFC 8291 aes128gcm encryption, RFC 8292 VAPID).

Each device with platform "webpush" gets the JSON payload
`{"body", "data", "idempotency_key", "kind", "title"}`, encrypted for its subscription
keys, with:

- `TTL`: how long the push service keeps an undelivered message. A dose reminder shown
  hours late invites a dose at the wrong time, so the default is one hour; the outbox
  decides separately whether a late reminder is still worth sending at all.
- `Urgency: high`: a reminder must wake the device even when it is saving power.
- `Topic`: derived from the idempotency key, so a retried reminder replaces a still
  pending copy at the push service instead of arriving twice.

404/410 mean the subscription is gone: the device is reported in `gone_devices`.
Redirects are not followed (a 3xx is a permanent failure). Each push has a total
deadline, connect to last byte (service.notify.deadline), and a push service whose
circuit is open (service.notify.breaker, keyed by host and port) is not tried.
The fan-out rules (one delivery is enough; no webpush device is a permanent "no device"
error) are in `service.notify.fanout`.
"""

from __future__ import annotations

import base64
import hashlib
import json

import requests
from cryptography.exceptions import UnsupportedAlgorithm
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]

from service.notify.base import DeliveryError, DeliveryReport, Device, Message
from service.notify.breaker import CircuitBreaker, endpoint_key, guarded
from service.notify.deadline import deadline, mount
from service.notify.errors import deadline_error, error_for_request_failure, error_for_status
from service.notify.fanout import DeviceGone, fan_out

PLATFORM = "webpush"
GONE_STATUSES = frozenset({404, 410})


def load_vapid_key(private_key: str) -> Vapid:
    """Parse a VAPID private key: PEM, or base64url of the raw 32-byte P-256 scalar or of DER.

    The error never echoes the value: it is a secret.
    """
    text = private_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            return Vapid.from_pem(text.encode("ascii"))
        return Vapid.from_string(private_key=text)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"not a P-256 VAPID private key ({type(exc).__name__})") from exc


def topic_for(idempotency_key: str) -> str:
    """A Topic header value: at most 32 characters of the URL-safe base64 alphabet."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def encode_payload(message: Message) -> str:
    payload = {
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "title": message.title,
        "body": message.body,
        "data": dict(message.data),
    }
    try:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DeliveryError(
            f"message data is not JSON-serialisable: {exc}", transient=False
        ) from exc


class _NoRedirects(requests.Session):
    """A push service answers for itself: a 3xx is its answer, never a hop elsewhere
    with the encrypted payload and the VAPID token."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


class WebPushNotifier:
    """One pooled HTTP session shared by all push services, safe to share between
    dispatcher threads."""

    name = "webpush"
    concurrent = True

    def __init__(
        self,
        *,
        vapid_private_key: str,
        vapid_subject: str,
        ttl_seconds: int = 3600,
        timeout_seconds: float = 10.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._vapid = load_vapid_key(vapid_private_key)
        self._subject = vapid_subject
        self._ttl = ttl_seconds
        # A total deadline per push, connect to last byte (service.notify.deadline).
        self._timeout = timeout_seconds
        self._breaker = breaker
        self._session = mount(_NoRedirects())

    def send(self, message: Message) -> DeliveryReport:
        payload = encode_payload(message)
        topic = topic_for(message.idempotency_key)
        devices = [device for device in message.devices if device.platform == PLATFORM]
        return fan_out(
            devices, lambda device: self._push(device, payload, topic), channel="webpush"
        )

    def _push(self, device: Device, payload: str, topic: str) -> str:
        subscription = _subscription(device)
        endpoint = endpoint_key(str(subscription["endpoint"]))
        return guarded(
            self._breaker,
            endpoint,
            lambda: self._post(subscription, payload, topic),
            slow_after=self._timeout / 2,
        )

    def _post(self, subscription: dict[str, object], payload: str, topic: str) -> str:
        with deadline(self._timeout) as budget:
            try:
                response = webpush(
                    subscription_info=subscription,
                    data=payload,
                    vapid_private_key=self._vapid,
                    # A fresh dict per call: pywebpush writes "aud" and "exp" into it.
                    vapid_claims={"sub": self._subject},
                    ttl=self._ttl,
                    headers={"Urgency": "high", "Topic": topic},
                    timeout=self._timeout,
                    requests_session=self._session,
                )
            except WebPushException as exc:
                raise _push_error(exc) from exc
            except requests.RequestException as exc:
                if budget.expired:
                    raise deadline_error(what="push service", seconds=self._timeout) from exc
                raise error_for_request_failure(exc, what="push service") from exc
            except ValueError as exc:  # malformed subscription keys, caught while encrypting
                raise DeliveryError("invalid subscription keys", transient=False) from exc
        return f"push service HTTP {response.status_code}"

    def close(self) -> None:
        self._session.close()


def _subscription(device: Device) -> dict[str, object]:
    keys = {name: device.keys.get(name) for name in ("p256dh", "auth")}
    if not device.endpoint or not all(keys.values()):
        raise DeliveryError("subscription lacks an endpoint or keys", transient=False)
    return {"endpoint": device.endpoint, "keys": keys}


def _push_error(exc: WebPushException) -> Exception:
    response = exc.response
    if response is None:  # refused before sending: a malformed subscription
        return DeliveryError(f"invalid subscription: {exc.message}", transient=False)
    if response.status_code in GONE_STATUSES:
        return DeviceGone()
    return error_for_status(
        response.status_code,
        retry_after=response.headers.get("Retry-After"),
        what="push service",
        detail=response.text,
    )
