"""Fixtures for notifier tests: a loopback-only network, and a message builder.

Every test here talks to real HTTP servers on 127.0.0.1. The `loopback_only` guard
makes that a guarantee rather than a hope: resolving any other host fails, so no test
can reach Google or a push service even on a machine with internet access. This
matters for FCM, where google-auth starts its own background request to
iamcredentials.googleapis.com (a regional-access-boundary lookup) after fetching a
token; the guard refuses it and waits for such threads before lifting itself.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from service.notify.base import Device, Message
from tests.notify.fake_http import FakeServer, Responder, Serve

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# Firebase Installation IDs: 22 URL-safe base64 characters starting with c, d, e or f.
ANDROID_FID = "dAndroidFid0123456789_"
IPHONE_FID = "eIphoneFid-0123456789A"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse to resolve anything but loopback; yields the hosts that were refused."""
    refused: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    before = set(threading.enumerate())

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in LOOPBACK:
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield refused
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a fake HTTP server answering with `respond`; stopped after the test."""
    servers: list[FakeServer] = []

    def start(respond: Responder) -> FakeServer:
        server = FakeServer(respond)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def make_message(**changes: Any) -> Message:
    """A dose reminder with one device of each platform; override any field."""
    message = Message(
        idempotency_key="dose-7f3a:dose-reminder",
        kind="dose-reminder",
        recipient_id="user-ada",
        patient_id="patient-ada",
        title="Time for your diazepam",
        body="5 mg at 08:00",
        data={
            "dose_id": "dose-7f3a",
            "prescription_id": "rx-12",
            "drug": "diazepam",
            "dose": "5 mg",
            "scheduled_at": "2025-03-30T06:00:00Z",
            "local_time": "08:00",
            "step": 3,
        },
        devices=(
            Device(id="dev-web", platform="webpush", endpoint="http://127.0.0.1:9/push/x"),
            Device(id="dev-android", platform="fcm", token=ANDROID_FID),
            Device(id="dev-iphone", platform="apns", token=IPHONE_FID),
        ),
    )
    return replace(message, **changes)
