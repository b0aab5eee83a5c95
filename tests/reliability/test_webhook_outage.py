"""The webhook receiver down: a real scheduler retries with exponential backoff and
delivers once the receiver is back; if it never comes back, each message is
dead-lettered after the attempt limit, visible to administrators, none lost silently.

Backoff is shortened through the environment (MEDTRACK_RETRY_BASE_SECONDS=1): attempt
k+1 may not come before 2^(k-1) seconds after attempt k. Runs on SQLite too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text

from bench.receiver import Delivery, Receiver, free_port
from service.db.uow import Database
from service.usecases.message_refs import MessageRefs
from tests.conftest import Builders
from tests.reliability.harness import (
    Figures,
    Processes,
    outbox_statuses,
    scheduler_env,
    seed_due_reminders,
    wait_until,
)

MESSAGES = 12
BASE_SECONDS = 1
DOWN_SECONDS = 6.0
DEAD_LETTER_AFTER = 3
# The clocks of the scheduler (wall) and the receiver (monotonic) may disagree by a hair.
CLOCK_SLACK = 0.05
# An attempt later than its backoff by more than this would be a stalled dispatcher.
LATE_BOUND = 10.0


def _env(database_url: str, url: str, **settings: str) -> dict[str, str]:
    return scheduler_env(
        database_url,
        url,
        MEDTRACK_RETRY_BASE_SECONDS=str(BASE_SECONDS),
        MEDTRACK_RETRY_MAX_SECONDS="60",
        MEDTRACK_WEBHOOK_TIMEOUT_SECONDS="2",
        **settings,
    )


def _rows(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT idempotency_key, status, attempts, last_error FROM notifications")
            )
        ]


def _by_key(deliveries: list[Delivery]) -> dict[str, list[Delivery]]:
    attempts: dict[str, list[Delivery]] = defaultdict(list)
    for d in deliveries:
        attempts[d.key].append(d)
    return {k: sorted(v, key=lambda d: d.at) for k, v in attempts.items()}


def _backoff(k: int) -> float:
    """The least wait after the k-th attempt (1-based): base x 2^(k-1)."""
    return float(BASE_SECONDS * 2 ** (k - 1))


def _gaps(attempts: dict[str, list[Delivery]]) -> dict[int, list[float]]:
    """Seconds between attempt k and k+1 of each message, by k."""
    gaps: dict[int, list[float]] = defaultdict(list)
    for tries in attempts.values():
        for k, (before, after) in enumerate(itertools.pairwise(tries), start=1):
            gaps[k].append(after.at - before.at)
    return gaps


def _show_gaps(figures: Figures, gaps: dict[int, list[float]]) -> None:
    for k in sorted(gaps):
        figures[f"gap_after_attempt_{k}_s(least {_backoff(k):.0f})"] = (
            f"{min(gaps[k]):.2f}..{max(gaps[k]):.2f}"
        )


def _check_gaps(figures: Figures, gaps: dict[int, list[float]]) -> None:
    for k, observed in gaps.items():
        assert min(observed) >= _backoff(k) - CLOCK_SLACK, f"retry {k} too early. {figures}"
        assert max(observed) <= _backoff(k) + LATE_BOUND, f"retry {k} stalled. {figures}"


def test_a_receiver_down_for_a_while_gets_each_message_once_after_backoff(
    database_url: str, database: Database, receiver: Receiver, processes: Processes
) -> None:
    expected = seed_due_reminders(database, MESSAGES, now=dt.datetime.now(dt.UTC))
    lock = threading.Lock()
    first_request: list[float] = []

    def down_then_up() -> int:
        with lock:
            if not first_request:
                first_request.append(time.monotonic())
            return 503 if time.monotonic() < first_request[0] + DOWN_SECONDS else 200

    receiver.status = down_then_up
    try:
        scheduler = processes.scheduler("scheduler", _env(database_url, receiver.url))
        waited = wait_until(
            lambda: outbox_statuses(database) == {"sent": MESSAGES},
            timeout=60,
            what="every message delivered after the outage",
            detail=lambda: f"outbox {outbox_statuses(database)}; log:\n{scheduler.tail()}",
        )
        time.sleep(1.5)  # a retry after delivery would arrive now
        assert scheduler.stop() == 0, scheduler.tail()
    finally:
        processes.close()

    attempts = _by_key(receiver.deliveries())
    gaps = _gaps(attempts)
    outbox_attempts = {key: n for key, _, n, _ in _rows(database)}
    figures = Figures(
        f"webhook down {DOWN_SECONDS:.0f} s, then up ({database.engine.dialect.name})"
    )
    figures.update(
        {
            "messages": MESSAGES,
            "requests": len(receiver.deliveries()),
            "answered_503": sum(1 for d in receiver.deliveries() if d.answered == 503),
            "deliveries": len(receiver.accepted()),
            "distinct_keys": len(receiver.accepted_keys()),
            "lost": len(set(expected) - receiver.accepted_keys()),
            "attempts_per_message": sorted({len(t) for t in attempts.values()}),
            "seconds_until_all_sent": waited,
        }
    )
    _show_gaps(figures, gaps)
    figures.show()

    assert set(attempts) == set(expected), figures
    assert figures["lost"] == 0, figures
    assert figures["deliveries"] == MESSAGES, f"each message accepted exactly once. {figures}"
    for key, tries in attempts.items():
        assert [d.answered for d in tries][-1] == 200, (key, figures)
        assert all(d.answered == 503 for d in tries[:-1]), (key, figures)
        assert len(tries) >= 3, f"the outage forced at least two retries. {figures}"
        assert outbox_attempts[key] == len(tries), f"the outbox counts every attempt. {figures}"
    _check_gaps(figures, gaps)
    assert all(d.signed and d.key == d.body_key for d in receiver.deliveries()), figures


@pytest.mark.parametrize("outage", ["answers-503", "connection-refused"])
def test_a_receiver_that_never_comes_back_dead_letters_every_message(
    outage: str,
    database_url: str,
    database: Database,
    receiver: Receiver,
    processes: Processes,
    make: Builders,
) -> None:
    expected = seed_due_reminders(database, MESSAGES, now=dt.datetime.now(dt.UTC))
    receiver.status = lambda: 503
    url = receiver.url if outage == "answers-503" else f"http://127.0.0.1:{free_port()}/hooks"
    env = _env(database_url, url, MEDTRACK_MAX_ATTEMPTS=str(DEAD_LETTER_AFTER))
    try:
        scheduler = processes.scheduler("scheduler", env)
        waited = wait_until(
            lambda: outbox_statuses(database) == {"failed": MESSAGES},
            timeout=60,
            what=f"every message dead-lettered after {DEAD_LETTER_AFTER} attempts",
            detail=lambda: f"outbox {outbox_statuses(database)}; log:\n{scheduler.tail()}",
        )
        requests_at_dead_letter = receiver.count()
        time.sleep(1.5)  # nothing more may be tried after the limit
        assert scheduler.stop() == 0, scheduler.tail()
    finally:
        processes.close()

    rows = _rows(database)
    admin = make.admin()
    listed = make.client.get(
        "/v1/admin/notifications?status=failed&limit=200", headers=admin.headers
    )
    assert listed.status_code == 200, listed.get_json()
    # Administrators see pseudonymous references; the test holds the key to map them.
    refs = MessageRefs(make.app.extensions["medtrack"].settings.secret_key)
    with database.engine.connect() as conn:
        ids = conn.execute(text("SELECT id, idempotency_key FROM notifications")).all()
    key_of = {refs.ref(message_id): key for message_id, key in ids}
    dead_letters = {key_of.get(n["ref"]) for n in listed.get_json()}
    attempts = _by_key(receiver.deliveries())
    figures = Figures(f"webhook never back, {outage} ({database.engine.dialect.name})")
    figures.update(
        {
            "messages": MESSAGES,
            "requests_received": receiver.count(),
            "requests_after_dead_letter": receiver.count() - requests_at_dead_letter,
            "delivered": len(receiver.accepted()),
            "dead_lettered": sum(1 for _, status, _, _ in rows if status == "failed"),
            "listed_by_admin_api": len(dead_letters),
            "outbox_attempts": sorted({n for _, _, n, _ in rows}),
            "without_last_error": sum(1 for *_, error in rows if not error),
            "lost_silently": sum(
                1 for key, status, _, error in rows if status != "failed" or not error
            )
            + len(set(expected) - {key for key, *_ in rows}),
            "seconds_until_dead_lettered": waited,
        }
    )
    _show_gaps(figures, _gaps(attempts))
    figures.show()

    assert figures["lost_silently"] == 0, figures
    assert figures["dead_lettered"] == MESSAGES, figures
    assert dead_letters == set(expected), figures
    assert figures["outbox_attempts"] == [DEAD_LETTER_AFTER], figures
    assert figures["delivered"] == 0, figures
    assert figures["requests_after_dead_letter"] == 0, figures
    errors = {error for *_, error in rows}
    if outage == "answers-503":
        assert {len(t) for t in attempts.values()} == {DEAD_LETTER_AFTER}, figures
        assert set(attempts) == set(expected), figures
        assert all("503" in e for e in errors), errors
        _check_gaps(figures, _gaps(attempts))
    else:
        assert receiver.count() == 0, figures
        assert all("unreachable" in e for e in errors), errors
    # Even the longest possible wait before the limit: the backoff was honoured.
    assert waited >= sum(_backoff(k) for k in range(1, DEAD_LETTER_AFTER)) - CLOCK_SLACK, figures
