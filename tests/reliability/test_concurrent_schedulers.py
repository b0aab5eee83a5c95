"""Three `medtrack scheduler` processes over one PostgreSQL database and 10,000 due
reminders: every reminder delivered exactly once, counted per Idempotency-Key at one
webhook receiver.

The reminders are held back until all three schedulers are up, then made due at once,
so the three really claim side by side (FOR UPDATE SKIP LOCKED); while they drain, the
test samples which workers hold claims, to show that more than one did the work.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
from sqlalchemy import text

from bench.receiver import Receiver
from service.db.uow import Database
from tests.reliability.harness import (
    Figures,
    Process,
    Processes,
    delivered_keys,
    hold,
    outbox_statuses,
    postgres_url,
    release,
    scheduler_env,
    seed_due_reminders,
    tally,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    postgres_url() is None,
    reason="several schedulers need PostgreSQL (FOR UPDATE SKIP LOCKED); "
    "set MEDTRACK_TEST_DATABASE_URL to a throwaway postgresql:// database",
)

DUE = 10_000
SCHEDULERS = 3


class ClaimWatcher:
    """Samples the outbox in the background: which worker (by pid) holds claims."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.seen: dict[int, int] = {}  # pid -> samples in which it held claims
        self.most_at_once = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ClaimWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        query = text("SELECT DISTINCT claimed_by FROM notifications WHERE status = 'claimed'")
        with self.database.engine.connect() as conn:
            while not self._stop.is_set():
                workers = [str(w) for (w,) in conn.execute(query)]
                conn.rollback()
                pids = {int(w.split(":")[-2]) for w in workers}
                for pid in pids:
                    self.seen[pid] = self.seen.get(pid, 0) + 1
                self.most_at_once = max(self.most_at_once, len(pids))
                time.sleep(0.02)


def _started(process: Process) -> bool:
    return " started" in process.output()


SENT = re.compile(r"dispatched: claimed \d+, sent (\d+)")


def _sent_by_its_log(process: Process) -> int:
    """What the scheduler says it sent (informative: log lines are not a contract)."""
    return sum(int(n) for n in SENT.findall(process.output()))


def test_three_schedulers_deliver_ten_thousand_reminders_once_each(
    database_url: str, database: Database, receiver: Receiver, processes: Processes
) -> None:
    setup = time.monotonic()
    expected = seed_due_reminders(database, DUE, now=dt.datetime.now(dt.UTC))
    hold(database)
    figures = Figures(f"{SCHEDULERS} schedulers at once")
    figures["setup_seconds"] = time.monotonic() - setup
    env = scheduler_env(database_url, receiver.url)
    try:
        schedulers = [processes.scheduler(f"scheduler-{i}", env) for i in range(SCHEDULERS)]
        wait_until(
            lambda: all(_started(s) for s in schedulers),
            timeout=60,
            what="all schedulers started",
            detail=lambda: "\n".join(s.tail(5) for s in schedulers),
        )
        assert receiver.count() == 0, "nothing is due before the release"
        with ClaimWatcher(database) as watcher:
            release(database)
            drained = wait_until(
                lambda: (
                    outbox_statuses(database) == {"sent": DUE}
                    and len(delivered_keys(receiver, expected)) >= DUE
                ),
                timeout=150,
                what=f"{DUE} reminders sent by {SCHEDULERS} schedulers",
                detail=lambda: (
                    f"outbox {outbox_statuses(database)}, received "
                    f"{receiver.count()}; logs:\n" + "\n".join(s.tail(5) for s in schedulers)
                ),
            )
        time.sleep(1.5)  # anything sent twice would arrive now
        codes = [s.stop() for s in schedulers]
        assert codes == [0] * SCHEDULERS, [s.tail() for s in schedulers]
    finally:
        processes.close()

    counts = tally(expected, receiver, database)
    figures.update(counts)
    pids = [s.pid for s in schedulers]
    figures["drain_seconds"] = drained
    figures["per_second"] = DUE / drained
    figures["schedulers_seen_claiming"] = sum(1 for pid in pids if watcher.seen.get(pid))
    figures["most_schedulers_claiming_at_once"] = watcher.most_at_once
    figures["sent_per_scheduler_by_its_log"] = [_sent_by_its_log(s) for s in schedulers]
    figures.show()
    # One POST per notification, never one twice; a patient's doses due at the same
    # instant share one, so there are at most as many as reminders.
    assert counts["deliveries"] == len(receiver.accepted_keys()), figures
    assert counts["deliveries"] <= DUE, figures
    assert counts["distinct_keys"] == DUE, figures
    assert counts["redeliveries"] == 0, figures
    assert counts["duplicates_at_receiver"] == 0, figures
    assert counts["duplicates_in_outbox"] == 0, figures
    assert counts["lost"] == 0, figures
    assert counts["unexpected"] == 0, figures
    assert counts["wrong_dose_for_key"] == 0, figures
    assert counts["header_body_key_mismatch"] == 0, figures
    assert counts["bad_signatures"] == 0, figures
    assert counts["not_sent_in_outbox"] == 0, figures
    assert set(watcher.seen) <= set(pids), f"claims by an unknown worker: {watcher.seen}"
    assert watcher.most_at_once >= 2, f"the schedulers never claimed side by side. {figures}"
