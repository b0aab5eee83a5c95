"""Building the configured notifier, refusing incomplete settings with the variable's name.

`NotifierSettings` is filled from MEDTRACK_* variables by service.config; the names in
the error messages are those variables, so an operator knows what to set. `kind` lists
the channels to run (MEDTRACK_NOTIFIERS, comma-separated; MEDTRACK_NOTIFIER holding one
name is the same list of one): one channel is built alone, several behind a
`ChannelRouter` (service.notify.channels). Adapters are imported lazily: a development
run with the log notifier never imports firebase-admin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from service.notify.base import Notifier
from service.notify.breaker import CircuitBreaker
from service.notify.channels import CHANNELS, ChannelRouter, Reach, parse_channels

KINDS = CHANNELS
# An HMAC key much shorter than this is guessable offline from one captured request.
MIN_WEBHOOK_SECRET_LENGTH = 16


@dataclass(frozen=True, kw_only=True)
class NotifierSettings:
    """Which channels to use and their settings. Secrets are kept out of repr()."""

    kind: str = "log"  # one channel name, or several separated by commas
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_timeout_seconds: float = 5.0
    vapid_private_key: str | None = field(default=None, repr=False)
    vapid_subject: str | None = None
    fcm_credentials_file: str | None = None
    fcm_project_id: str | None = None
    fcm_endpoint: str | None = None  # None: Google's https://fcm.googleapis.com
    # Web Push and FCM: the total deadline of one push, connect to last byte.
    push_timeout_seconds: float = 10.0
    # The circuit of a receiving endpoint opens after this many slow sends in a row,
    # and lets one probe through after this long (service.notify.breaker).
    breaker_failures: int = 3
    breaker_open_seconds: float = 30.0

    def breaker(self) -> CircuitBreaker:
        return CircuitBreaker(
            failures=self.breaker_failures, open_seconds=self.breaker_open_seconds
        )

    @property
    def channels(self) -> tuple[str, ...]:
        return parse_channels(self.kind)

    def reach(self) -> Reach:
        """What registration checks a device against: the configured channels."""
        return Reach(channels=self.channels, webhook_url=self.webhook_url)


def build_notifier(settings: NotifierSettings) -> Notifier:
    """The notifier for `settings.kind`: one channel, or a router over several;
    ValueError naming the MEDTRACK_ variable to fix."""
    names = settings.channels
    if len(names) == 1:
        return _channel(names[0], settings)
    built: dict[str, Notifier] = {}
    try:
        for name in names:
            built[name] = _channel(name, settings)
    except Exception:
        for notifier in built.values():
            notifier.close()
        raise
    return ChannelRouter(built)


def _channel(kind: str, settings: NotifierSettings) -> Notifier:
    if kind == "log":
        from service.notify.log import LogNotifier

        return LogNotifier()
    if kind == "webhook":
        return _webhook(settings)
    if kind == "webpush":
        return _webpush(settings)
    if kind == "fcm":
        return _fcm(settings)
    raise ValueError(f"MEDTRACK_NOTIFIERS must list channels among {', '.join(KINDS)}")


def _webhook(settings: NotifierSettings) -> Notifier:
    from service.notify.webhook import WebhookNotifier

    url = _required(settings.webhook_url, "MEDTRACK_WEBHOOK_URL")
    _check_http_url(url, "MEDTRACK_WEBHOOK_URL")
    secret = _required(settings.webhook_secret, "MEDTRACK_WEBHOOK_SECRET")
    if len(secret) < MIN_WEBHOOK_SECRET_LENGTH:
        raise ValueError(
            f"MEDTRACK_WEBHOOK_SECRET must be at least {MIN_WEBHOOK_SECRET_LENGTH} characters"
        )
    timeout = settings.webhook_timeout_seconds
    if not 0 < timeout <= 60:
        raise ValueError(f"MEDTRACK_WEBHOOK_TIMEOUT_SECONDS must be in (0, 60], got {timeout}")
    return WebhookNotifier(
        url=url, secret=secret, timeout_seconds=timeout, breaker=settings.breaker()
    )


def _webpush(settings: NotifierSettings) -> Notifier:
    from service.notify.webpush import WebPushNotifier, load_vapid_key

    key = _required(settings.vapid_private_key, "MEDTRACK_VAPID_PRIVATE_KEY")
    try:
        load_vapid_key(key)
    except ValueError as exc:
        raise ValueError(f"MEDTRACK_VAPID_PRIVATE_KEY is invalid: {exc}") from exc
    subject = _required(settings.vapid_subject, "MEDTRACK_VAPID_SUBJECT")
    # RFC 8292 section 2.1: the contact is a mailto: or https: URI.
    if not subject.startswith(("mailto:", "https://")):
        raise ValueError("MEDTRACK_VAPID_SUBJECT must be a mailto: or https:// contact URI")
    return WebPushNotifier(
        vapid_private_key=key,
        vapid_subject=subject,
        timeout_seconds=settings.push_timeout_seconds,
        breaker=settings.breaker(),
    )


def _fcm(settings: NotifierSettings) -> Notifier:
    from service.notify.fcm import FcmNotifier

    path = _required(settings.fcm_credentials_file, "MEDTRACK_FCM_CREDENTIALS")
    account = _service_account(path)
    if not (settings.fcm_project_id or account.get("project_id")):
        raise ValueError(
            "MEDTRACK_FCM_PROJECT_ID must be set: the service-account file names no project_id"
        )
    if settings.fcm_endpoint is not None:
        _check_http_url(settings.fcm_endpoint, "MEDTRACK_FCM_ENDPOINT")
    try:
        return FcmNotifier(
            credentials_file=path,
            project_id=settings.fcm_project_id,
            endpoint=settings.fcm_endpoint,
            timeout_seconds=settings.push_timeout_seconds,
            breaker=settings.breaker(),
        )
    except ValueError as exc:
        raise ValueError(f"MEDTRACK_FCM_CREDENTIALS is not usable: {exc}") from exc


def _service_account(path: str) -> dict[str, Any]:
    """The parsed file, checked just enough to name the variable; never echoes its content."""
    try:
        account = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"MEDTRACK_FCM_CREDENTIALS must name a readable JSON file ({type(exc).__name__})"
        ) from exc
    if not isinstance(account, dict) or account.get("type") != "service_account":
        raise ValueError("MEDTRACK_FCM_CREDENTIALS must be a Google service-account JSON file")
    return account


def _required(value: str | None, variable: str) -> str:
    if value is None or not value.strip():
        raise ValueError(f"{variable} must be set")
    return value.strip()


def _check_http_url(url: str, variable: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{variable} must be an http(s) URL with a host")
