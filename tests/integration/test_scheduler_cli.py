"""`medtrack scheduler --once` and `python -m schedules --once` as separate
processes, on the real clock, delivering to a real local webhook receiver."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Iterator

import pytest

from tests.conftest import Builders, FrozenClock
from tests.notify.fake_http import FakeServer, Reply

SECRET = "cli-test-webhook-secret-0123456789"
ZONE = "America/New_York"


@pytest.fixture
def receiver() -> Iterator[FakeServer]:
    server = FakeServer(lambda _: Reply(status=200))
    server.start()
    yield server
    server.stop()


def run_scheduler(args: list[str], database_url: str, receiver: FakeServer) -> None:
    env = {
        **os.environ,
        "MEDTRACK_ENV": "test",
        "MEDTRACK_DATABASE_URL": database_url,
        "MEDTRACK_NOTIFIER": "webhook",
        "MEDTRACK_WEBHOOK_URL": receiver.url + "/hooks/medtrack",
        "MEDTRACK_WEBHOOK_SECRET": SECRET,
        "MEDTRACK_LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", *args, "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def next_slot(now: dt.datetime) -> dt.datetime:
    """The next whole minute at least 15 s away (so the first run is surely early)."""
    slot = (now + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    if slot - now < dt.timedelta(seconds=15):
        slot += dt.timedelta(minutes=1)
    return slot


def test_a_dose_due_in_a_minute_is_sent_once_when_due_and_then_logged(
    make: Builders, clock: FrozenClock, database_url: str, receiver: FakeServer
) -> None:
    clock.now = dt.datetime.now(dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone=ZONE)
    due = next_slot(clock.now)
    local = due.astimezone(zoneinfo.ZoneInfo(ZONE))
    make.prescription(
        doc,
        pat,
        drug="Lexapro",
        schedule={"times": [local.strftime("%H:%M")], "as_needed": False},
        start_date=local.date().isoformat(),
    )

    run_scheduler(["service.cli", "scheduler"], database_url, receiver)
    assert receiver.requests == [], "a dose is not sent before it is due"

    time.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
    run_scheduler(["schedules"], database_url, receiver)
    run_scheduler(["service.cli", "scheduler"], database_url, receiver)
    assert len(receiver.requests) == 1
    (request,) = receiver.requests
    assert request.path == "/hooks/medtrack"
    body = json.loads(request.body)
    assert body["kind"] == "dose-reminder"
    assert body["data"]["scheduled_at"] == due.isoformat()
    assert body["data"]["local_time"] == f"{local:%H:%M}"
    assert request.headers["Idempotency-Key"] == body["idempotency_key"]
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Medtrack-Signature"], expected)

    clock.now = dt.datetime.now(dt.UTC)
    (dose_id,) = body["data"]["dose_ids"]
    r = make.client.post(f"/v1/doses/{dose_id}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "taken"


def test_the_scheduler_refuses_an_incomplete_notifier_setup(database_url: str) -> None:
    env = {
        **os.environ,
        "MEDTRACK_DATABASE_URL": database_url,
        "MEDTRACK_NOTIFIER": "webhook",
        "MEDTRACK_WEBHOOK_URL": "",
        "MEDTRACK_WEBHOOK_SECRET": "",
    }
    for args in (["service.cli", "scheduler"], ["schedules"]):
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", *args, "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0
        assert "MEDTRACK_WEBHOOK_URL" in done.stderr
