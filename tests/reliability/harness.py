"""What the fault tests share: the scheduler as a real subprocess, due reminders
planned and queued by the product's own use cases (on rows seeded by bench/seeding.py),
deadlines, and the figures each test prints and asserts. The webhook receiver that
records every delivery is the benchmarks' (bench/receiver.py).

Vocabulary of the figures (tests 1 and 2):

- deliveries: POSTs the receiver accepted (answered 2xx).
- distinct keys: different reminders (outbox keys) among them: a POST for a patient's
  doses due at the same instant carries one per dose.
- redeliveries: deliveries of a key already accepted (deliveries - distinct keys). An
  at-least-once retry after a crash produces these; the receiver drops them by key.
- duplicates: one reminder delivered as two different messages: a (dose, kind) seen
  under more than one idempotency key at the receiver, plus outbox rows beyond the
  first for one (dose, kind) in the database. Never acceptable.
- lost: due reminders whose key the receiver never accepted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
import uuid
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.receiver import Delivery, Receiver
from bench.seeding import Regimen, Seed
from service import knowledge
from service.db.uow import Database
from service.domain.accounts import Role
from service.domain.messages import MessageStatus
from service.usecases.dispatch import queue_due_messages
from service.usecases.planning import materialise_doses
from service.usecases.reminders import ReminderPolicy
from tests.conftest import PG_URL

SECRET = "reliability-webhook-secret-0123456789"

# Time zones without daylight saving time, so the local wall times computed for the
# last two hours map back to exactly those instants on any day of the year.
ZONES = ("UTC", "Asia/Kolkata", "Asia/Tokyo", "America/Phoenix", "Africa/Nairobi")

# The reminder policy of the data the tests build, and the scheduler settings that
# match it: planning looks back two hours (no older doses exist), and nothing that
# happens within the test's minutes makes a follow-up, a missed dose or an expiry,
# so the only messages are the reminders queued at setup.
POLICY = ReminderPolicy(
    horizon=dt.timedelta(hours=24),
    catch_up=dt.timedelta(hours=2),
    expiry=dt.timedelta(hours=4),
    follow_up_after=dt.timedelta(hours=10),
    missed_after=dt.timedelta(hours=24),
)
POLICY_ENV = {
    "MEDTRACK_HORIZON_HOURS": "24",
    "MEDTRACK_CATCH_UP_HOURS": "2",
    "MEDTRACK_REMINDER_EXPIRY_MINUTES": "240",
    "MEDTRACK_FOLLOW_UP_MINUTES": "600",
    "MEDTRACK_MISSED_AFTER_MINUTES": "1440",
}


def postgres_url() -> str | None:
    """MEDTRACK_TEST_DATABASE_URL when it names a PostgreSQL database."""
    if PG_URL and make_url(PG_URL).get_backend_name() == "postgresql":
        return PG_URL
    return None


# --- deadlines ------------------------------------------------------------------------


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    detail: Callable[[], str] = lambda: "",
) -> float:
    """Poll until `predicate()` holds; the seconds it took. AssertionError at the deadline."""
    start = time.monotonic()
    deadline = start + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s. {detail()}")
        time.sleep(interval)
    return time.monotonic() - start


# --- figures --------------------------------------------------------------------------

# Every test's figures, for the terminal summary (conftest.py).
REPORTED: list[tuple[str, dict[str, Any]]] = []


@dataclass
class Figures:
    """Named counts and timings of one test: printed, summarised, and quoted in
    assertion messages."""

    title: str
    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def update(self, values: Mapping[str, Any]) -> None:
        self.values.update(values)

    def __str__(self) -> str:
        return f"{self.title}: " + ", ".join(f"{k}={_show(v)}" for k, v in self.values.items())

    def show(self) -> None:
        """Print now (visible with -s) and keep for the end-of-run summary."""
        print(f"\n[reliability] {self}", flush=True)
        REPORTED.append((self.title, dict(self.values)))


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


# --- processes ------------------------------------------------------------------------


def medtrack_env(**settings: str) -> dict[str, str]:
    """This environment without any MEDTRACK_ variable of the caller's, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDTRACK_")}
    env.update(settings)
    return env


def scheduler_env(database_url: str, receiver_url: str, **settings: str) -> dict[str, str]:
    """`medtrack scheduler` with the webhook notifier, ticking every second."""
    return medtrack_env(
        MEDTRACK_ENV="test",
        MEDTRACK_DATABASE_URL=database_url,
        MEDTRACK_NOTIFIER="webhook",
        MEDTRACK_WEBHOOK_URL=receiver_url,
        MEDTRACK_WEBHOOK_SECRET=SECRET,
        MEDTRACK_DISPATCH_INTERVAL_SECONDS="1",
        MEDTRACK_LOG_LEVEL="INFO",
        **POLICY_ENV,
        **settings,
    )


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the process group: no handler runs, nothing is released."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM (the scheduler finishes its batch and hands its claims back); SIGKILL
        if it has not exited within `timeout`."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


class Processes:
    """The subprocesses a test starts; `close` kills whichever still run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started: list[Process] = []

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Process:
        log = self.directory / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
                args,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name=name, popen=popen, log=log)
        self.started.append(process)
        return process

    def scheduler(self, name: str, env: Mapping[str, str]) -> Process:
        """`medtrack scheduler` (service.cli's command, run by this interpreter)."""
        return self.start(name, [sys.executable, "-m", "service.cli", "scheduler"], env)

    def close(self) -> None:
        for process in self.started:
            process.kill()


# --- data -----------------------------------------------------------------------------


def seed_due_reminders(
    database: Database,
    n: int,
    *,
    now: dt.datetime,
    prescriptions_per_patient: int = 4,
    times_per_prescription: int = 24,
) -> dict[str, str]:
    """Exactly `n` reminders due at `now`, planned and queued by the product.

    Patients (in zones without DST) and their prescriptions are bulk-inserted, each
    prescription with up to `times_per_prescription` (24) wall-clock times that fell in
    the last 100 minutes;
    `materialise_doses` then plans the dose events and `queue_due_messages` queues one
    reminder per dose, as the scheduler does. Returns {idempotency key: dose id}.
    """
    rng = random.Random(n)
    minutes = [
        (now - dt.timedelta(minutes=m)).replace(second=0, microsecond=0) for m in range(2, 100)
    ]
    seed = Seed(at=now - dt.timedelta(days=3), label="reliability")
    clinician = seed.user(Role.CLINICIAN)
    remaining = n
    while remaining > 0:
        zone = ZONES[seed.patients % len(ZONES)]
        _, patient_id = seed.patient(zone, clinician=clinician)
        for _ in range(prescriptions_per_patient):
            if remaining <= 0:
                break
            count = min(times_per_prescription, remaining)
            remaining -= count
            local = sorted(
                at.astimezone(zoneinfo.ZoneInfo(zone)).time() for at in rng.sample(minutes, count)
            )
            regimen = Regimen("escitalopram", "escitalopram", tuple(local), Decimal("10"))
            seed.prescription(patient_id, regimen, clinician=clinician, start=seed.at.date())
    seed.write(database)

    def clock() -> dt.datetime:
        return now

    kb = knowledge.load()
    materialise_doses(uow=database.uow(), clock=clock, kb=kb, policy=POLICY)
    queue_due_messages(uow=database.uow(), clock=clock, policy=POLICY)
    due = outbox_keys(database)
    assert len(due) == n, f"setup: {len(due)} reminders queued, expected {n}"
    return due


def outbox_keys(database: Database) -> dict[str, str]:
    """{idempotency key: dose id} of every outbox row."""
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT idempotency_key, dose_event_id FROM notifications"))
        return {str(key): str(uuid.UUID(str(dose))) for key, dose in rows}


def outbox_statuses(database: Database) -> dict[str, int]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM notifications GROUP BY status"))
        return {str(status): int(count) for status, count in rows}


def hold(database: Database) -> None:
    """Every queued message not due before tomorrow (a test then releases them at once)."""
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE notifications SET next_attempt_at = :later WHERE status = :pending"),
            {
                "later": dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
                "pending": MessageStatus.PENDING.value,
            },
        )


def release(database: Database) -> None:
    """Held messages due again at their own time."""
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE notifications SET next_attempt_at = due_at WHERE status = :pending"),
            {"pending": MessageStatus.PENDING.value},
        )


# --- the tally ------------------------------------------------------------------------


def row_keys(d: Delivery, key_of: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """(outbox key, dose id) of each reminder a delivery carried. A patient's doses due
    at the same instant go as one delivery under a key of its own, listing their dose
    ids: each is counted as its own row's (`key_of`: dose id -> outbox key)."""
    if len(d.dose_ids) > 1:
        return [(key_of.get(dose, f"unknown:{dose}"), dose) for dose in d.dose_ids]
    return [(d.key, d.dose_ids[0] if d.dose_ids else d.dose_id)]


def delivered_keys(receiver: Receiver, expected: Mapping[str, str]) -> set[str]:
    """The outbox keys of the reminders the receiver accepted."""
    key_of = {dose: key for key, dose in expected.items()}
    return {key for d in receiver.accepted() for key, _ in row_keys(d, key_of)}


def tally(expected: Mapping[str, str], receiver: Receiver, database: Database) -> dict[str, int]:
    """The figures of a dispatch run against the due reminders `expected` (see the
    module docstring for what each means)."""
    accepted = receiver.accepted()
    everything = receiver.deliveries()
    # A delivery for a patient's doses of one instant counts once per dose (row).
    key_of = {dose: key for key, dose in expected.items()}
    rows = [(d, key, dose) for d in accepted for key, dose in row_keys(d, key_of)]
    keys = Counter(key for _, key, _ in rows)
    per_reminder: dict[tuple[str | None, str], set[str]] = defaultdict(set)
    for d, _, dose in rows:
        per_reminder[(dose, d.kind)].add(d.key)
    with database.engine.connect() as conn:
        rows_per_reminder = conn.execute(
            text(
                "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM notifications "
                "WHERE dose_event_id IS NOT NULL GROUP BY dose_event_id, kind) AS per_reminder"
            )
        ).scalar_one()
        unsettled = conn.execute(
            text("SELECT count(*) FROM notifications WHERE status <> :sent"),
            {"sent": MessageStatus.SENT.value},
        ).scalar_one()
    return {
        "due": len(expected),
        "deliveries": len(accepted),
        "distinct_keys": len(keys),
        "redeliveries": sum(c - 1 for c in keys.values()),
        "duplicates_at_receiver": sum(len(k) - 1 for k in per_reminder.values()),
        "duplicates_in_outbox": int(rows_per_reminder),
        "lost": len(set(expected) - set(keys)),
        "unexpected": len(set(keys) - set(expected)),
        "wrong_dose_for_key": sum(1 for _, key, dose in rows if expected.get(key, dose) != dose),
        "header_body_key_mismatch": sum(1 for d in everything if d.key != d.body_key),
        "bad_signatures": sum(1 for d in everything if not d.signed),
        "not_sent_in_outbox": int(unsettled),
    }
