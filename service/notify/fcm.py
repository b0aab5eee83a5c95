"""Firebase Cloud Messaging notifier (FCM HTTP v1 through firebase-admin).

Android devices ("fcm") and iOS devices ("apns", reached through FCM's APNs bridge) are
addressed by the identifier in `Device.token`. Each message carries a visible
notification (title, body) and a data map of strings (FCM accepts nothing else): the
message's data as one JSON document in `payload` (numbers stay numbers there), plus
`idempotency_key` and `kind` so the app can drop a duplicate. Android priority is
"high" and APNs priority 10 with push type "alert": a reminder must wake a dozing
device. Both expire after `ttl_seconds` (one hour by default) because a reminder shown
hours late invites a dose at the wrong time.

Identifiers: FCM is moving from registration tokens to Firebase Installation IDs (FIDs;
firebase-admin 7.5 deprecated `Message.token` for `Message.fid`). An app build
registers one or the other, so during the migration both kinds sit in the database. An
FID has a fixed shape (FID_PATTERN) that a registration token (100+ characters with a
":") never has, so each identifier is sent in the field that matches it. The legacy
path emits firebase-admin's DeprecationWarning on purpose: it marks what still has to
migrate.

Errors: UNREGISTERED and NOT_FOUND put the device in `gone_devices`; unavailable,
internal, deadline, quota and unknown errors are transient; the rest (invalid argument,
authentication, permission, sender mismatch) are permanent. OAuth token failures from
google-auth are transient when google-auth says they are retryable.

Each send has a total deadline, connect to last byte (service.notify.deadline; the OAuth
token request to the service account's token_uri is google-auth's and keeps its own
timeout), and while FCM's circuit is open (service.notify.breaker) nothing is sent and
the message is deferred. Sends run one at a time: firebase-admin's App is not
documented as safe to share between threads.

Each notifier owns a named firebase-admin App so several can coexist (and tests can
run in one process); `close` deletes it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

import firebase_admin  # type: ignore[import-untyped]
import google.auth.exceptions
import requests
from firebase_admin import credentials, exceptions, messaging

from service.notify.base import DeliveryError, DeliveryReport, Device, Message
from service.notify.breaker import CircuitBreaker, endpoint_key, guarded
from service.notify.deadline import deadline
from service.notify.errors import deadline_error, parse_retry_after
from service.notify.fanout import DeviceGone, fan_out
from service.notify.fcm_transport import point_messaging_at

PLATFORMS = frozenset({"fcm", "apns"})
# 22 URL-safe base64 characters whose first 4 bits are 0b0111: firebase-js-sdk,
# packages/installations/src/helpers/generate-fid.ts, VALID_FID_PATTERN.
FID_PATTERN = re.compile(r"[cdef][A-Za-z0-9_-]{21}")
TRANSIENT_CODES = frozenset(
    {
        exceptions.UNAVAILABLE,
        exceptions.INTERNAL,
        exceptions.DEADLINE_EXCEEDED,
        exceptions.RESOURCE_EXHAUSTED,
        exceptions.UNKNOWN,
        exceptions.ABORTED,
    }
)


def target(identifier: str) -> dict[str, str]:
    """The messaging.Message keyword that addresses this device: `fid` or legacy `token`."""
    return {"fid": identifier} if FID_PATTERN.fullmatch(identifier) else {"token": identifier}


def string_data(message: Message) -> dict[str, str]:
    """FCM's data map carries strings only (its protocol): the message's data goes as
    one JSON document in `payload`, where numbers stay numbers, beside the
    `idempotency_key` and `kind` the app reads before parsing it."""
    try:
        payload = json.dumps(
            dict(message.data), sort_keys=True, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise DeliveryError(
            f"message data is not JSON-serialisable: {exc}", transient=False
        ) from exc
    return {"payload": payload, "idempotency_key": message.idempotency_key, "kind": message.kind}


class FcmNotifier:
    """Sends through a private firebase-admin App; one dispatcher thread at a time."""

    name = "fcm"

    def __init__(
        self,
        *,
        credentials_file: str,
        project_id: str | None = None,
        endpoint: str | None = None,
        ttl_seconds: int = 3600,
        timeout_seconds: float = 10.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        options: dict[str, Any] = {"httpTimeout": timeout_seconds}
        self._timeout = timeout_seconds
        self._breaker = breaker
        if project_id:
            options["projectId"] = project_id
        credential = credentials.Certificate(credentials_file)
        self._app = firebase_admin.initialize_app(
            credential, options, name=f"medtrack-notify-{uuid.uuid4().hex}"
        )
        self._ttl = ttl_seconds
        try:
            self._endpoint = endpoint_key(point_messaging_at(self._app, endpoint))
        except Exception:
            firebase_admin.delete_app(self._app)
            raise

    def send(self, message: Message) -> DeliveryReport:
        data = string_data(message)
        devices = [device for device in message.devices if device.platform in PLATFORMS]
        return fan_out(devices, lambda device: self._send_one(device, message, data), channel="fcm")

    def _send_one(self, device: Device, message: Message, data: Mapping[str, str]) -> str:
        token = device.token
        if not token:
            raise DeliveryError("device has no FCM installation ID or token", transient=False)
        return guarded(
            self._breaker,
            self._endpoint,
            lambda: self._post(self._build(token, message, data)),
            slow_after=self._timeout / 2,
        )

    def _post(self, built: Any) -> str:
        with deadline(self._timeout) as budget:
            try:
                return str(messaging.send(built, app=self._app))
            except (messaging.UnregisteredError, exceptions.NotFoundError) as exc:
                raise DeviceGone() from exc
            except exceptions.FirebaseError as exc:
                if budget.expired:
                    raise deadline_error(what="FCM", seconds=self._timeout) from exc
                raise _firebase_error(exc) from exc
            except google.auth.exceptions.GoogleAuthError as exc:
                raise _auth_error(exc) from exc

    def _build(self, identifier: str, message: Message, data: Mapping[str, str]) -> Any:
        expires = int(time.time()) + self._ttl
        return messaging.Message(
            **target(identifier),
            notification=messaging.Notification(title=message.title, body=message.body),
            data=dict(data),
            android=messaging.AndroidConfig(priority="high", ttl=dt.timedelta(seconds=self._ttl)),
            apns=messaging.APNSConfig(
                headers={
                    "apns-priority": "10",
                    "apns-push-type": "alert",
                    "apns-expiration": str(expires),
                },
                payload=messaging.APNSPayload(aps=messaging.Aps(sound="default")),
            ),
        )

    def close(self) -> None:
        firebase_admin.delete_app(self._app)


def _firebase_error(exc: Any) -> DeliveryError:
    code = str(exc.code)
    response = exc.http_response
    status = f" HTTP {response.status_code}" if response is not None else ""
    text = f"FCM {code}{status}: {exc}"[:300]
    if isinstance(getattr(exc, "cause", None), requests.TooManyRedirects):
        # A redirect is refused (fcm_transport): asking again would be refused again.
        return DeliveryError(
            f"FCM answered with a redirect, not followed: {exc}"[:300], transient=False
        )
    if code in TRANSIENT_CODES:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        return DeliveryError(text, transient=True, retry_after=parse_retry_after(retry_after))
    return DeliveryError(text, transient=False)


def _auth_error(exc: google.auth.exceptions.GoogleAuthError) -> DeliveryError:
    retryable = bool(getattr(exc, "retryable", False)) or isinstance(
        exc, google.auth.exceptions.TransportError
    )
    return DeliveryError(f"FCM OAuth token: {type(exc).__name__}", transient=retryable)
