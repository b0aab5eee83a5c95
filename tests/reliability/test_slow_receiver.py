"""A slow-drip receiver on one device: it answers at once, then sends one byte every
0.3 s. A real scheduler (Web Push, where each device has its own endpoint) must keep
every other reminder on time, retry the slow one with backoff and dead-letter it after
the attempt limit, never send it twice at once or twice per attempt, and lose nothing.

Settings are shortened through the environment: each push has a 1 s total deadline,
a claim's lease is 5 s, two slow sends open an endpoint's circuit for 2 s, retries
back off from 1 s, and the third attempt is the last. Reminders are made due in two
waves, the second while the slow device's retries are under way; the lateness of a
reminder is the time from when it was made due to its arrival, and the target is the
one bench/reminders.py holds the dispatcher to (p99 at most 1 s), here for every one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Collection

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, text

from service.db.tables import Device
from service.db.uow import Database
from service.notify.webpush import topic_for
from tests.notify.fake_http import FakeServer, Recorded, Reply
from tests.notify.slow_drip import DripServer
from tests.notify.test_webpush import Browser, b64url
from tests.reliability.harness import (
    Figures,
    Processes,
    hold,
    outbox_statuses,
    scheduler_env,
    seed_due_reminders,
    wait_until,
)

PATIENTS = 8
PER_PATIENT = 2
MAX_ATTEMPTS = 3
BASE_SECONDS = 1
LATENESS_TARGET = 1.0  # bench/reminders.py: TARGET_P99_MS
CLOCK_SLACK = 0.05


class PushService:
    """A well-behaved push service: records each push's Topic and arrival, answers 201."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        self.server = FakeServer(self._answer)

    def _answer(self, request: Recorded) -> Reply:
        with self._lock:
            self.arrivals[str(request.headers.get("Topic"))].append(time.monotonic())
        return Reply(status=201)


def _recipients(database: Database) -> dict[uuid.UUID, list[str]]:
    keys: dict[uuid.UUID, list[str]] = defaultdict(list)
    with database.engine.connect() as conn:
        for key, recipient in conn.execute(
            text("SELECT idempotency_key, recipient_id FROM notifications ORDER BY id")
        ):
            keys[uuid.UUID(str(recipient))].append(str(key))
    return keys


def _register(database: Database, endpoints: dict[uuid.UUID, str]) -> None:
    browser = Browser.new()
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "user_id": user,
            "platform": "webpush",
            "endpoint": endpoint,
            "token": None,
            "keys": dict(browser.device("d", endpoint).keys),
            "label": None,
            "created_at": now,
            "removed_at": None,
            "removed_reason": None,
        }
        for user, endpoint in endpoints.items()
    ]
    with database.engine.begin() as conn:
        conn.execute(Device.__table__.insert(), rows)  # type: ignore[attr-defined]


def _make_due(database: Database, keys: Collection[str]) -> float:
    """The messages `keys` due now; the instant (monotonic) they became due."""
    stmt = text(
        "UPDATE notifications SET next_attempt_at = :now WHERE idempotency_key IN :keys"
    ).bindparams(bindparam("keys", expanding=True))
    with database.engine.begin() as conn:
        conn.execute(stmt, {"now": dt.datetime.now(dt.UTC), "keys": list(keys)})
    return time.monotonic()


def _env(database_url: str, vapid_key: str) -> dict[str, str]:
    env = scheduler_env(database_url, "http://127.0.0.1:9/unused")
    env.update(
        MEDTRACK_NOTIFIER="webpush",
        MEDTRACK_VAPID_PRIVATE_KEY=vapid_key,
        MEDTRACK_VAPID_SUBJECT="mailto:ops@medtrack.example",
        MEDTRACK_PUSH_TIMEOUT_SECONDS="1",
        MEDTRACK_WEBHOOK_TIMEOUT_SECONDS="1",
        MEDTRACK_CLAIM_LEASE_SECONDS="5",
        MEDTRACK_BREAKER_FAILURES="2",
        MEDTRACK_BREAKER_OPEN_SECONDS="2",
        MEDTRACK_RETRY_BASE_SECONDS=str(BASE_SECONDS),
        MEDTRACK_RETRY_MAX_SECONDS="4",
        MEDTRACK_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
        MEDTRACK_DISPATCH_INTERVAL_SECONDS="0.5",
        MEDTRACK_DISPATCH_THREADS="4",
    )
    return env


def _outbox(database: Database) -> dict[str, tuple[str, int, str | None]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT idempotency_key, status, attempts, last_error FROM notifications")
        )
        return {str(k): (str(s), int(a), e) for k, s, a, e in rows}


def test_a_slow_drip_device_holds_no_other_reminder_and_is_never_sent_twice(
    database_url: str, database: Database, processes: Processes
) -> None:
    seed_due_reminders(
        database,
        PATIENTS * PER_PATIENT,
        now=dt.datetime.now(dt.UTC),
        prescriptions_per_patient=1,
        times_per_prescription=PER_PATIENT,
    )
    hold(database)
    by_recipient = _recipients(database)
    slow_user, *others = list(by_recipient)
    push, drip = PushService(), DripServer(interval=0.3)
    push.server.start()
    drip.start()
    endpoints = {slow_user: drip.url + "/push/slow"}
    endpoints.update({user: f"{push.server.url}/push/{user.hex}" for user in others})
    _register(database, endpoints)
    slow_keys = by_recipient[slow_user]
    half = len(others) // 2
    waves = [
        slow_keys + [k for user in others[:half] for k in by_recipient[user]],
        [k for user in others[half:] for k in by_recipient[user]],
    ]
    raw = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    try:
        scheduler = processes.scheduler(
            "scheduler", _env(database_url, b64url(raw.to_bytes(32, "big")))
        )
        wait_until(
            lambda: " started" in scheduler.output(),
            timeout=60,
            what="scheduler started",
            detail=scheduler.tail,
        )
        due_at = {key: _make_due(database, waves[0]) for key in waves[0]}
        time.sleep(2.0)  # the slow device's first attempts are under way
        due_at.update({key: _make_due(database, waves[1]) for key in waves[1]})
        waited = wait_until(
            lambda: (
                outbox_statuses(database)
                == {"sent": len(others) * PER_PATIENT, "failed": len(slow_keys)}
            ),
            timeout=60,
            what="every reminder sent, the slow device's dead-lettered",
            detail=lambda: f"outbox {outbox_statuses(database)}; log:\n{scheduler.tail()}",
        )
        requests_then = len(drip.requests) + sum(len(a) for a in push.arrivals.values())
        time.sleep(1.5)  # a duplicate or a late retry would arrive now
        assert scheduler.stop() == 0, scheduler.tail()
    finally:
        processes.close()
        push.server.stop()
        drip.stop()

    outbox = _outbox(database)
    good = [k for k in due_at if k not in slow_keys]
    lateness = {
        k: push.arrivals[topic_for(k)][0] - due_at[k] for k in good if push.arrivals[topic_for(k)]
    }
    slow_tries: dict[str, list[float]] = defaultdict(list)
    topics = {topic_for(k): k for k in slow_keys}
    for request in drip.requests:
        slow_tries[topics[str(request.headers.get("Topic"))]].append(request.at)
    gaps = [
        (k, n, after - before)
        for k, tries in slow_tries.items()
        for n, (before, after) in enumerate(itertools.pairwise(sorted(tries)), start=1)
    ]
    figures = Figures(f"slow-drip device ({database.engine.dialect.name})")
    figures.update(
        {
            "reminders": len(due_at),
            "on_other_devices": len(good),
            "delivered_to_others": sum(1 for k in good if push.arrivals[topic_for(k)]),
            "max_lateness_s": max(lateness.values(), default=float("inf")),
            "late_over_target": sum(1 for v in lateness.values() if v > LATENESS_TARGET),
            "pushes_per_other_reminder": sorted({len(push.arrivals[topic_for(k)]) for k in good}),
            "slow_attempts": sorted(len(t) for t in slow_tries.values()),
            "slow_outbox_attempts": sorted(outbox[k][1] for k in slow_keys),
            "slow_most_in_flight": drip.most_in_flight,
            "requests_after_settled": len(drip.requests)
            + sum(len(a) for a in push.arrivals.values())
            - requests_then,
            "lost": sum(1 for k in due_at if outbox[k][0] not in ("sent", "failed")),
            "seconds_until_settled": waited,
        }
    )
    figures.show()

    assert figures["delivered_to_others"] == len(good), figures
    assert figures["late_over_target"] == 0, figures
    assert figures["pushes_per_other_reminder"] == [1], f"each sent once. {figures}"
    assert figures["slow_most_in_flight"] == 1, f"never sent twice at once. {figures}"
    assert figures["slow_attempts"] == [MAX_ATTEMPTS] * len(slow_keys), figures
    assert figures["slow_outbox_attempts"] == figures["slow_attempts"], figures
    assert figures["requests_after_settled"] == 0, figures
    assert figures["lost"] == 0, figures
    for key in slow_keys:
        status, _, error = outbox[key]
        assert status == "failed", (key, outbox[key])
        assert "timed out" in (error or ""), (key, outbox[key])
    for key, n, gap in gaps:
        assert gap >= BASE_SECONDS * 2 ** (n - 1) - CLOCK_SLACK, (key, n, gap, figures)
