"""SIGTERM to a scheduler in the middle of dispatch: it finishes the sends in flight,
hands back what it claimed and had not started, leaves no claim behind and exits 0;
a scheduler started after it sends the rest at once (not after a lease), and nothing
is sent twice. Runs on SQLite too."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time

from bench.receiver import Receiver
from service.db.uow import Database
from tests.reliability.harness import (
    Figures,
    Processes,
    delivered_keys,
    outbox_statuses,
    scheduler_env,
    seed_due_reminders,
    tally,
    wait_until,
)

DUE = 2000
BATCH = 200
# In the middle of the third batch.
TERM_AFTER = 2 * BATCH + BATCH // 2
# Claims a SIGTERM failed to hand back would hold the rest up for this long.
LEASE_SECONDS = 600


def test_sigterm_finishes_the_batch_hands_back_claims_and_loses_nothing(
    database_url: str, database: Database, receiver: Receiver, processes: Processes
) -> None:
    expected = seed_due_reminders(database, DUE, now=dt.datetime.now(dt.UTC))
    env = scheduler_env(
        database_url,
        receiver.url,
        MEDTRACK_CLAIM_LEASE_SECONDS=str(LEASE_SECONDS),
        MEDTRACK_DISPATCH_BATCH=str(BATCH),
    )
    figures = Figures(f"SIGTERM mid-dispatch ({database.engine.dialect.name})")
    signalled = threading.Event()
    first = processes.scheduler("scheduler-1", env)

    def term_while_in_flight(n: int) -> None:
        if n == TERM_AFTER and not signalled.is_set():
            first.popen.send_signal(signal.SIGTERM)
            signalled.set()

    receiver.on_request = term_while_in_flight
    try:
        wait_until(
            signalled.is_set,
            timeout=90,
            what=f"the first scheduler reaching {TERM_AFTER} deliveries",
            detail=lambda: f"received {receiver.count()}; log:\n{first.tail()}",
        )
        receiver.on_request = None
        started = time.monotonic()
        code = first.popen.wait(timeout=60)
        figures["seconds_to_exit_after_sigterm"] = time.monotonic() - started
        statuses = outbox_statuses(database)
        sent_by_first = len(delivered_keys(receiver, expected))
        figures.update(
            {
                "due": DUE,
                "exit_code": code,
                "delivered_by_the_first": sent_by_first,
                "claims_left": statuses.get("claimed", 0),
                "sent_in_outbox": statuses.get("sent", 0),
            }
        )
        assert code == 0, (figures, first.tail())
        assert statuses.get("claimed", 0) == 0, figures
        # The sends in flight were finished, past the signal, none cut off mid-request;
        # what was claimed and not yet started was handed back (recipients are sent to
        # side by side, so that is not a whole number of batches).
        figures["cut_off_mid_request"] = receiver.truncated
        assert receiver.truncated == 0, figures
        assert sent_by_first > TERM_AFTER, figures
        assert statuses.get("sent", 0) == sent_by_first, figures

        second = processes.scheduler("scheduler-2", env)
        figures["seconds_for_the_second_to_drain"] = wait_until(
            lambda: outbox_statuses(database) == {"sent": DUE},
            timeout=60,
            what="the rest sent by the next scheduler (within the lease, so none held)",
            detail=lambda: f"outbox {outbox_statuses(database)}; log:\n{second.tail()}",
        )
        time.sleep(1.0)
        assert second.stop() == 0, second.tail()
    finally:
        receiver.on_request = None
        processes.close()

    counts = tally(expected, receiver, database)
    figures.update(counts)
    figures.show()
    assert counts["lost"] == 0, figures
    assert counts["redeliveries"] == 0, figures
    assert counts["duplicates_at_receiver"] == 0, figures
    assert counts["duplicates_in_outbox"] == 0, figures
    assert counts["distinct_keys"] == DUE, figures
