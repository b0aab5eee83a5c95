"""Devices a signed-in user registers to receive reminders and alerts.

A device is accepted only where this deployment can reach it: its platform's channel
is configured (service.notify.channels.Reach), and a webhook device is a route on the
operator's configured gateway.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import socket
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import idna

from service.db.outbox import queued
from service.db.tables import Device
from service.db.uow import UnitOfWork
from service.domain.accounts import DeviceRemoval
from service.domain.audit import AuditAction, AuditOutcome
from service.domain.errors import Problems
from service.domain.messages import MessageKind
from service.notify.channels import Reach
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, NotFound, domain_rules

PLATFORMS = ("webpush", "webhook", "fcm", "apns")
# The push services browsers subscribe with (Chrome, Firefox, Safari, Edge). The
# dispatcher POSTs to a subscription's endpoint, so only these hosts are accepted:
# any other URL would let an account make the service call arbitrary servers.
PUSH_SERVICES = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "push.services.mozilla.com",
    "web.push.apple.com",
    "notify.windows.com",
)
MAX_DEVICES = 20
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
# Sizes of a Web Push subscription's keys (RFC 8291): a P-256 point and 16 bytes.
_P256DH_CHARS = (86, 88)
_AUTH_CHARS = (22, 24)


@dataclass(frozen=True, kw_only=True)
class DeviceView:
    id: uuid.UUID
    platform: str
    endpoint: str | None
    label: str | None
    created_at: dt.datetime


def _view(d: Device) -> DeviceView:
    return DeviceView(
        id=d.id, platform=d.platform, endpoint=d.endpoint, label=d.label, created_at=d.created_at
    )


def _https(url: str | None) -> bool:
    if not url:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, say
        return False
    return parts.scheme == "https" and bool(parts.hostname) and not parts.username


def _port_problem(url: str) -> str | None:
    try:
        port = urlsplit(url).port
    except ValueError:
        return "The port must be a number from 1 to 65535."
    return "The port must be a number from 1 to 65535." if port == 0 else None


# Full stops that UTS #46 maps to "." (ideographic, full-width, half-width ideographic).
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def normalised_host(url: str) -> str:
    """The host as an HTTP client will look it up: mapped by UTS #46 (IDNA), so that
    full-width digits (U+FF10-FF19) and ideographic full stops (U+3002)
    are checked as the ASCII they become, lower-cased, without a trailing dot."""
    host = urlsplit(url).hostname or ""
    if ":" not in host:  # an IPv6 literal needs no mapping
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            # Not a valid IDNA name (an underscore, say): the same mapping by hand.
            host = unicodedata.normalize("NFKC", host).translate(_DOTS)
    return host.rstrip(".").lower()


def _public_host(url: str) -> bool:
    """False for loopback, private, link-local, multicast and other non-public
    addresses, written in any form a resolver accepts (`127.1`, `2130706433`,
    `0x7f.0.0.1`, `[::1]`, full-width digits), and for localhost names: a stored URL must
    not point the service at its own network."""
    host = normalised_host(url)
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except (OSError, ValueError):
            # A name is not resolved here: no device URL is called except those of
            # the known push services (see SECURITY.md, API7).
            return True
    # Python counts multicast groups as global; a device URL is never one.
    found = [address, *_embedded_ipv4(address)]
    return all(a.is_global and not a.is_multicast for a in found)


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches: mapped, 6to4, Teredo, NAT64 and
    the old IPv4-compatible form."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.append(address.teredo[1])
    if address in NAT64 or address in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _push_service(url: str | None) -> bool:
    host = normalised_host(url or "")
    return any(host == h or host.endswith("." + h) for h in PUSH_SERVICES)


def _validate(
    platform: str,
    endpoint: str | None,
    token: str | None,
    keys: Mapping[str, str],
    reach: Reach,
) -> None:
    problems = Problems()
    refused = reach.refusal(platform, endpoint) if platform in PLATFORMS else None
    if platform not in PLATFORMS:
        problems.add("platform", f"Use one of: {', '.join(PLATFORMS)}.")
    elif refused is not None and refused[0] == "platform":
        problems.add(*refused)
    elif platform in ("webpush", "webhook"):
        if not _https(endpoint):
            problems.add("endpoint", "A well-formed https:// URL is required for this platform.")
        elif port_problem := _port_problem(endpoint or ""):
            problems.add("endpoint", port_problem)
        elif not _public_host(endpoint or ""):
            problems.add("endpoint", "Must be a public address, not a local or private one.")
        elif platform == "webpush" and not _push_service(endpoint):
            problems.add(
                "endpoint", f"Not a known push service; use one of: {', '.join(PUSH_SERVICES)}."
            )
        elif refused is not None:
            problems.add(*refused)
        if token:
            problems.add("token", "Only for fcm and apns devices.")
    elif not token:
        problems.add("token", "The FCM registration token is required.")
    elif endpoint:
        problems.add("endpoint", "Only for webpush and webhook devices.")
    if platform == "webpush":
        for name, (low, high) in (("p256dh", _P256DH_CHARS), ("auth", _AUTH_CHARS)):
            value = keys.get(name, "")
            if not (low <= len(value) <= high and _BASE64URL.match(value)):
                problems.add(f"keys.{name}", "Required: the subscription's base64url key.")
        extra = set(keys) - {"p256dh", "auth"}
        if extra:
            problems.add("keys", f"Unknown keys: {', '.join(sorted(extra))}.")
    elif keys:
        problems.add("keys", "Only Web Push subscriptions carry keys.")
    problems.raise_if_any()


def _device_field(platform: str) -> str:
    return "endpoint" if platform == "webpush" else "token"


def _file_takeover_attempt(
    uow: UnitOfWork, *, caller: Caller, now: dt.datetime, taken: list[Device]
) -> None:
    """Audit the attempt in both accounts' trails (the caller's, and each owner's patient
    record) and tell each owner on their devices, this one included."""
    who = caller.require()
    for device in taken:
        owner = uow.patients.by_user(device.user_id)
        owner_patient = owner.id if owner else None
        for patient_id in dict.fromkeys([owner_patient, who.patient_id]):
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.EXECUTE,
                subtype="device.takeover",
                entity_type="Device",
                entity_id=device.id,
                patient_id=patient_id,
                before={"user_id": device.user_id, "platform": device.platform},
                after={"user_id": who.user_id},
                outcome=AuditOutcome.MINOR_FAILURE,
                outcome_desc="refused: the device is registered to another account",
            )
        if owner_patient is not None:
            uow.outbox.add_messages([_takeover_notice(device, owner_patient, now)])


def _takeover_notice(device: Device, patient_id: uuid.UUID, now: dt.datetime) -> dict[str, Any]:
    return queued(
        # One notice per device per day, however many attempts: the owner is told,
        # not flooded (every attempt is still in both audit trails).
        key=f"{MessageKind.DEVICE_TAKEN}:{device.id}:{now.date().isoformat()}",
        kind=MessageKind.DEVICE_TAKEN,
        recipient_id=device.user_id,
        patient_id=patient_id,
        dose_event_id=None,
        due_at=now,
        now=now,
        payload={
            "title": "Another account tried to use your device",
            "body": (
                "Someone tried to register one of your devices to another account. It still "
                "receives your reminders. If this was not you, tell your care team."
            ),
            "data": {"device_id": str(device.id)},
        },
    )


def register_device(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    platform: str,
    endpoint: str | None,
    token: str | None,
    keys: Mapping[str, str],
    label: str | None,
    reach: Reach,
) -> tuple[DeviceView, bool]:
    """Register a device that `reach` (the configured channels) can reach; the same
    endpoint or token again returns the existing one (created False)."""
    who = caller.require()
    with domain_rules("The device is not valid."):
        _validate(platform, endpoint, token, keys, reach)
    now = clock()
    with uow:
        current = uow.devices.devices_of([who.user_id])[who.user_id]
        again = next((d for d in current if _same(d, platform, endpoint, token, keys)), None)
        if again is not None:
            return _view(again), False
        if len(current) >= MAX_DEVICES:
            raise Conflict(f"At most {MAX_DEVICES} devices; remove one first.")
        _refuse_takeover(
            uow, caller=caller, now=now, platform=platform, endpoint=endpoint, token=token
        )
        device = uow.devices.add_device(
            user_id=who.user_id,
            platform=platform,
            endpoint=endpoint,
            token=token,
            keys=keys,
            label=(label or "").strip() or None,
            now=now,
        )
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype="device.register",
            entity_type="Device",
            entity_id=device.id,
            patient_id=who.patient_id,
            after={"platform": platform, "label": device.label},
        )
        uow.commit()
        return _view(device), True


def _same(
    d: Device, platform: str, endpoint: str | None, token: str | None, keys: Mapping[str, str]
) -> bool:
    """Whether a registration is this one again (a client retrying, say)."""
    same_target = (d.platform, d.endpoint, d.token) == (platform, endpoint, token)
    return same_target and dict(d.keys) == dict(keys)


def _refuse_takeover(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    platform: str,
    endpoint: str | None,
    token: str | None,
) -> None:
    """A push token or subscription already registered to another account is not
    moved: whoever learnt it could otherwise take that account's reminders. The
    attempt is filed (committed) before the refusal.

    A webhook endpoint names a route on the operator's gateway, not a phone, so it
    may be shared."""
    if platform == "webhook":
        return
    taken = uow.devices.same_device_elsewhere(
        platform=platform, endpoint=endpoint, token=token, user_id=caller.require().user_id
    )
    if not taken:
        return
    _file_takeover_attempt(uow, caller=caller, now=now, taken=taken)
    uow.commit()
    raise Conflict(
        "This device is registered to another account; remove it there "
        "(DELETE /v1/me/devices/{id} signed in as that account), then register again.",
        errors={_device_field(platform): ["Registered to another account."]},
    )


def list_devices(*, uow: UnitOfWork, caller: Caller) -> list[DeviceView]:
    who = caller.require()
    with uow.read_only() as reading:
        return [_view(d) for d in reading.devices.devices_of([who.user_id])[who.user_id]]


def remove_device(*, uow: UnitOfWork, caller: Caller, clock: Clock, device_id: uuid.UUID) -> None:
    """Removal ends the registration (kept, with when and why)."""
    who = caller.require()
    now = clock()
    with uow:
        device = uow.devices.device(who.user_id, device_id)
        if device is None:
            raise NotFound(f"No device {device_id}.")
        uow.devices.remove_devices([str(device.id)], reason=DeviceRemoval.REMOVED, now=now)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.DELETE,
            subtype="device.remove",
            entity_type="Device",
            entity_id=device.id,
            patient_id=who.patient_id,
            before={"platform": device.platform, "label": device.label},
        )
        uow.commit()
