"""A scheduler killed with SIGKILL in the middle of dispatch, then restarted: every due
reminder is delivered, and none as two different messages.

The kill is fired by the receiver while it holds a request unanswered, so it lands
mid-dispatch for certain: the dead process leaves a claimed batch of which part was
already delivered. Its claims expire after the (short) lease and the new scheduler
sends them again; the messages the receiver already had come back with the same
Idempotency-Key (redeliveries it can drop), never under a new one. Runs on SQLite too.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Mapping

from sqlalchemy import text

from bench.receiver import Receiver
from service.db.uow import Database
from tests.reliability.harness import (
    Figures,
    Processes,
    delivered_keys,
    outbox_statuses,
    row_keys,
    scheduler_env,
    seed_due_reminders,
    tally,
    wait_until,
)

DUE = 3000
BATCH = 200
# A third of the way through, in the middle of a batch (not on its edge).
KILL_AFTER = DUE // 3 + BATCH // 5 + 7
LEASE_SECONDS = 5


def _claimed_keys(database: Database) -> set[str]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT idempotency_key FROM notifications WHERE status = 'claimed'")
        )
        return {str(key) for (key,) in rows}


def test_a_scheduler_killed_mid_dispatch_and_restarted_loses_and_duplicates_nothing(
    database_url: str, database: Database, receiver: Receiver, processes: Processes
) -> None:
    expected = seed_due_reminders(database, DUE, now=dt.datetime.now(dt.UTC))
    env = scheduler_env(
        database_url,
        receiver.url,
        MEDTRACK_CLAIM_LEASE_SECONDS=str(LEASE_SECONDS),
        MEDTRACK_WEBHOOK_TIMEOUT_SECONDS="1",
        MEDTRACK_DISPATCH_BATCH=str(BATCH),
        MEDTRACK_RETRY_BASE_SECONDS="1",
    )
    figures = Figures(f"kill -9 mid-dispatch ({database.engine.dialect.name})")
    killed = threading.Event()
    first = processes.scheduler("scheduler-1", env)

    def kill_while_in_flight(n: int) -> None:
        if n == KILL_AFTER and not killed.is_set():
            first.kill()
            killed.set()

    receiver.on_request = kill_while_in_flight
    try:
        wait_until(
            killed.is_set,
            timeout=90,
            what=f"the first scheduler reaching {KILL_AFTER} deliveries",
            detail=lambda: f"received {receiver.count()}; log:\n{first.tail()}",
        )
        receiver.on_request = None
        assert first.popen.returncode == -signal.SIGKILL
        orphaned = _claimed_keys(database)
        at_kill = len(delivered_keys(receiver, expected))
        figures.update(
            {
                "due": DUE,
                "delivered_before_kill": at_kill,
                "claims_left_by_the_kill": len(orphaned),
                "sent_in_outbox_at_kill": outbox_statuses(database).get("sent", 0),
            }
        )
        assert 0 < at_kill < DUE, figures
        assert orphaned, f"the kill left no claim behind: not mid-dispatch. {figures}"

        restarted = time.monotonic()
        second = processes.scheduler("scheduler-2", env)
        recovery = wait_until(
            lambda: (
                outbox_statuses(database) == {"sent": DUE}
                and delivered_keys(receiver, expected) >= set(expected)
            ),
            timeout=120,
            what="every due reminder sent after the restart",
            detail=lambda: f"outbox {outbox_statuses(database)}; log:\n{second.tail()}",
        )
        time.sleep(1.5)  # anything sent twice would arrive now
        assert second.stop() == 0, second.tail()
        figures["seconds_to_drain_after_restart"] = recovery
        figures["seconds_after_restart_total"] = time.monotonic() - restarted
    finally:
        receiver.on_request = None
        processes.close()

    counts = tally(expected, receiver, database)
    figures.update(counts)
    redelivered = {k for k, n in _key_counts(receiver, expected).items() if n > 1}
    figures["redelivered_keys_outside_dead_claims"] = len(redelivered - orphaned)
    figures.show()
    assert counts["lost"] == 0, figures
    assert counts["duplicates_at_receiver"] == 0, figures
    assert counts["duplicates_in_outbox"] == 0, figures
    assert counts["unexpected"] == 0, figures
    assert counts["wrong_dose_for_key"] == 0, figures
    assert counts["header_body_key_mismatch"] == 0, figures
    assert counts["bad_signatures"] == 0, figures
    assert counts["not_sent_in_outbox"] == 0, figures
    assert counts["distinct_keys"] == DUE, figures
    # At least once, and only where the crash left it unknown: a message is sent again
    # only if it was in the dead process's unsettled claims, under its own key.
    assert redelivered <= orphaned, figures
    assert counts["redeliveries"] <= len(orphaned), figures


def _key_counts(receiver: Receiver, expected: Mapping[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    key_of = {dose: key for key, dose in expected.items()}
    for d in receiver.accepted():
        for key, _ in row_keys(d, key_of):
            counts[key] = counts.get(key, 0) + 1
    return counts
