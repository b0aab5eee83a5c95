"""The notifier port: what the dispatch use case hands to a channel, and what comes back.

Adapters translate every library and HTTP failure into `DeliveryError`, so the outbox
decides between "retry later" and "give up" without knowing which channel ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, kw_only=True)
class Device:
    """A registered device of the recipient.

    `endpoint` is a Web Push endpoint URL (or a per-device webhook URL); `token` is an
    FCM registration token (iOS devices are reached through FCM too); `keys` holds the
    Web Push subscription keys `{"p256dh": ..., "auth": ...}`.
    """

    id: str
    platform: str  # "webpush" | "webhook" | "fcm" | "apns"
    endpoint: str | None = None
    token: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Message:
    """One notification for one recipient.

    `idempotency_key` is stable per (dose event, kind), or per group of doses due at
    the same instant: a retry after a lost response carries the same key, so receivers
    can drop the duplicate. `data` must be JSON-able; numbers stay numbers (an adapter
    whose protocol carries only strings encodes them there).

    `detailed` is False unless the patient chose detailed notifications: then the title,
    body and data name no drug or dose and carry ids only, and adapters leave the
    patient id out of what they send (the recipient id still routes the message).
    """

    idempotency_key: str
    kind: str  # a MessageKind value (service/domain/messages.py)
    recipient_id: str
    patient_id: str
    title: str
    body: str
    data: Mapping[str, Any]
    devices: tuple[Device, ...] = ()
    detailed: bool = False


class DeliveryError(Exception):
    """The message was not delivered.

    transient=True: retry later (timeouts, connection failures, 408, 429, 5xx), after
    `retry_after` seconds when the receiver said so. transient=False: retrying cannot
    help (other 4xx, no usable device, bad configuration).

    `gone_devices` lists devices the push service reported as no longer existing even
    though the message as a whole failed (for instance when every device is gone), so
    the caller can deactivate them on the failure path too.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool,
        retry_after: float | None = None,
        gone_devices: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.retry_after = retry_after
        self.gone_devices = gone_devices


class Deferred(DeliveryError):
    """Not attempted: the receiving endpoint's circuit is open (service.notify.breaker).

    Transient by nature; the caller tries again after `retry_after` seconds and does
    not count this as an attempt, since nothing was sent.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, transient=True, retry_after=retry_after)


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    """A successful delivery: at least one receiver accepted the message.

    `gone_devices` are device ids the push service says no longer exist (HTTP 404/410,
    FCM UNREGISTERED): the caller should deactivate them.
    """

    detail: str = ""
    gone_devices: tuple[str, ...] = ()


class Notifier(Protocol):
    """A delivery channel. `send` raises DeliveryError; `close` releases connections.

    A channel whose `send` may be called from several threads at once says so with a
    class attribute `concurrent = True`; the dispatcher then sends to different
    recipients side by side.
    """

    name: str

    def send(self, message: Message) -> DeliveryReport: ...

    def close(self) -> None: ...
