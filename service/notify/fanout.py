"""Sending one message to each of a recipient's devices, and summing up the outcomes.

The rule: the message counts as delivered when at least one device accepted it. A
reminder that reached the phone but not the laptop has done its job; retrying it would
buzz the phone a second time, because a push service cannot de-duplicate for us.
When no device accepted it, the error is transient if any device failed transiently
(retry them all later), and permanent otherwise (every device gone or refused).
A message with no device of the channel's platforms is a permanent "no device" error,
not an empty success: the outbox should record that nobody was reminded. When every
device was skipped because its endpoint's circuit is open, the result is `Deferred`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from service.notify.base import Deferred, DeliveryError, DeliveryReport, Device


class DeviceGone(Exception):
    """The push service says this device no longer exists (404/410, UNREGISTERED)."""


def fan_out(
    devices: Iterable[Device], send_one: Callable[[Device], str], *, channel: str
) -> DeliveryReport:
    """Call `send_one` per device; it returns a short detail, or raises DeviceGone/DeliveryError."""
    delivered: list[str] = []
    gone: list[str] = []
    failures: list[tuple[str, DeliveryError]] = []
    for device in devices:
        try:
            delivered.append(f"{device.id}: {send_one(device)}")
        except DeviceGone:
            gone.append(device.id)
        except DeliveryError as exc:
            failures.append((device.id, exc))
    if delivered:
        notes = delivered + [f"{device_id}: failed ({exc.message})" for device_id, exc in failures]
        return DeliveryReport(detail="; ".join(notes), gone_devices=tuple(gone))
    raise _no_delivery(channel, tuple(gone), failures)


def _no_delivery(
    channel: str, gone: tuple[str, ...], failures: list[tuple[str, DeliveryError]]
) -> DeliveryError:
    if not gone and not failures:
        return DeliveryError(f"no {channel} device", transient=False)
    if not gone and all(isinstance(exc, Deferred) for _, exc in failures):
        # Nothing was sent to anyone: not an attempt, try when the first circuit reopens.
        waits = [exc.retry_after or 0.0 for _, exc in failures]
        skipped = "; ".join(f"{device_id}: {exc.message}" for device_id, exc in failures)
        return Deferred(f"{channel}: deferred ({skipped})", retry_after=min(waits))
    reasons = [f"{device_id}: {exc.message}" for device_id, exc in failures]
    reasons += [f"{device_id}: gone" for device_id in gone]
    transient = [exc for _, exc in failures if exc.transient]
    waits = [exc.retry_after for exc in transient if exc.retry_after is not None]
    return DeliveryError(
        f"{channel}: no device accepted the message ({'; '.join(reasons)})",
        transient=bool(transient),
        retry_after=max(waits) if waits else None,
        gone_devices=gone,
    )
