"""Several channels at once: each device is sent through the channel of its platform.

The configured channels are a set (MEDTRACK_NOTIFIERS=webpush,fcm,webhook): a web
browser's subscription goes through Web Push, an Android or iOS app through FCM (APNs
via FCM's bridge), a `webhook` device through the signed webhook to its route on the
operator's gateway. `log` is the development channel: it logs every message and
stands in for every platform, so a developer can register any device.

`Reach` is what registration asks: may a device of this platform be registered here
(its channel is configured), and is a webhook route on the configured gateway.

`ChannelRouter` is a Notifier over the configured channels. A message goes to each
channel that has a device of its platforms among the recipient's devices; the webhook
channel also takes a message that no other configured channel can deliver (its
configured URL is the operator's default route, as with the webhook alone). As with
the devices of one channel (service.notify.fanout), the message counts as delivered
when at least one channel delivered it: a push service cannot de-duplicate a second
copy for us. Sends run one channel after the other; the router lets the dispatcher
send to several recipients at once only if every channel allows it (`concurrent`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from service.notify.base import Deferred, DeliveryError, DeliveryReport, Message, Notifier

CHANNELS = ("log", "webhook", "webpush", "fcm")
# The channel that reaches each device platform (service/usecases/devices.py).
PLATFORM_CHANNEL: Mapping[str, str] = {
    "webpush": "webpush",
    "fcm": "fcm",
    "apns": "fcm",
    "webhook": "webhook",
}
VARIABLE = "MEDTRACK_NOTIFIERS"


def parse_channels(text: str, *, variable: str = VARIABLE) -> tuple[str, ...]:
    """The channel names of a comma-separated setting, each once, in order."""
    names = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [name for name in names if name not in CHANNELS]
    if not names or unknown:
        shown = ", ".join(repr(name) for name in unknown) or "nothing"
        raise ValueError(
            f"{variable} must list channels among {', '.join(CHANNELS)} "
            f"(comma-separated), got {shown}"
        )
    return names


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, or None: what a webhook route must share."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


@dataclass(frozen=True, kw_only=True)
class Reach:
    """Which device platforms this deployment can reach."""

    channels: tuple[str, ...] = ("log",)
    webhook_url: str | None = None

    def platforms(self) -> tuple[str, ...]:
        if "log" in self.channels:
            return tuple(PLATFORM_CHANNEL)
        return tuple(p for p, channel in PLATFORM_CHANNEL.items() if channel in self.channels)

    def refusal(self, platform: str, endpoint: str | None) -> tuple[str, str] | None:
        """(field, reason) when a device of `platform` at `endpoint` cannot be reached."""
        reachable = self.platforms()
        if platform in PLATFORM_CHANNEL and platform not in reachable:
            return (
                "platform",
                f"No {PLATFORM_CHANNEL[platform]} channel is configured on this server; "
                f"devices of these platforms can be registered: {', '.join(reachable)}.",
            )
        gateway = origin(self.webhook_url) if self.webhook_url else None
        if (
            platform == "webhook"
            and "webhook" in self.channels
            and gateway is not None
            and (endpoint is None or origin(endpoint) != gateway)
        ):
            host = f"{gateway[0]}://{gateway[1]}:{gateway[2]}"
            return ("endpoint", f"A webhook device is a route on the gateway {host}.")
        return None


def _handles(name: str, message: Message, others: tuple[str, ...]) -> bool:
    platforms = {device.platform for device in message.devices}
    if name == "log":
        return True
    mine = {p for p, channel in PLATFORM_CHANNEL.items() if channel == name}
    if platforms & mine:
        return True
    if name != "webhook":
        return False
    # The gateway's default route takes what no other configured channel can deliver.
    reached = {PLATFORM_CHANNEL.get(p) for p in platforms}
    return not reached & set(others)


class ChannelRouter:
    """A Notifier over several channels, keyed by channel name."""

    def __init__(self, channels: Mapping[str, Notifier]) -> None:
        self._channels = dict(channels)
        self.name = "+".join(self._channels)
        self.concurrent = all(bool(getattr(n, "concurrent", False)) for n in channels.values())

    def send(self, message: Message) -> DeliveryReport:
        names = tuple(self._channels)
        delivered: list[tuple[str, DeliveryReport]] = []
        failures: list[tuple[str, DeliveryError]] = []
        for name, notifier in self._channels.items():
            if not _handles(name, message, tuple(n for n in names if n != name)):
                continue
            try:
                delivered.append((name, notifier.send(message)))
            except DeliveryError as exc:
                failures.append((name, exc))
        gone = {d for _, report in delivered for d in report.gone_devices}
        gone |= {d for _, exc in failures for d in exc.gone_devices}
        if delivered:
            notes = [f"{name}: {report.detail}" for name, report in delivered]
            notes += [f"{name}: failed ({exc.message})" for name, exc in failures]
            return DeliveryReport(detail="; ".join(notes), gone_devices=tuple(sorted(gone)))
        raise _no_delivery(failures, tuple(sorted(gone)), names)

    def close(self) -> None:
        for notifier in self._channels.values():
            notifier.close()


def _no_delivery(
    failures: list[tuple[str, DeliveryError]], gone: tuple[str, ...], names: tuple[str, ...]
) -> DeliveryError:
    if not failures:
        return DeliveryError(
            f"no device of a configured channel ({', '.join(names)})", transient=False
        )
    if all(isinstance(exc, Deferred) for _, exc in failures):
        waits = [exc.retry_after or 0.0 for _, exc in failures]
        skipped = "; ".join(f"{name}: {exc.message}" for name, exc in failures)
        return Deferred(f"deferred ({skipped})", retry_after=min(waits))
    transient = [exc for _, exc in failures if exc.transient]
    waits = [exc.retry_after for exc in transient if exc.retry_after is not None]
    return DeliveryError(
        "; ".join(f"{name}: {exc.message}" for name, exc in failures),
        transient=bool(transient),
        retry_after=max(waits) if waits else None,
        gone_devices=gone,
    )
