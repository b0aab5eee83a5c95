"""Benchmark: reminder dispatch throughput, one and two dispatchers, no-op and webhook.

Builds a fresh, migrated database with N due reminders (20,000; 2,000 with --quick):
patients, prescriptions and devices are bulk-inserted, then the product's `plan`
materialises the dose events and `queue_due_messages` queues the reminders, with a
fixed clock. Every reminder is then made due at the timing start, and the product's
`dispatch_due` drains the backlog:

1. with an in-process no-op notifier, one process (both engines), and two processes
   at once (PostgreSQL only: claims use FOR UPDATE SKIP LOCKED), checked for
   duplicates afterwards;
2. with the real `WebhookNotifier` posting to a local receiver in another process,
   which counts the distinct Idempotency-Key values and checks the signatures;
3. for the one-process no-op run, the time from the due instant (the timing start)
   to each message's send: how long a backlog of N takes to drain.

Target: with the no-op notifier on PostgreSQL, at least 10,000 reminders/s.

    .venv/bin/python -m bench.reminders [--quick] [--engine sqlite|postgresql|both]
                                         [--postgres-url URL] [--profile]

It is a benchmark, not a test: the exit status is 0 whether or not a target is met,
and non-zero only when something goes wrong (including a failed verification).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import functools
import hashlib
import hmac
import multiprocessing
import random
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Barrier as BarrierType
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, update

from bench.common import (
    add_engine_arguments,
    machine_line,
    percentile,
    postgres_database,
    print_profile,
    verdict,
)
from schedules.app import worker_id
from service.db.devices import DeviceRepository
from service.db.doses import DoseRepository
from service.db.migrate import upgrade
from service.db.outbox import OutboxRepository
from service.db.tables import (
    Device,
    DoseEvent,
    Notification,
    Patient,
    Prescription,
    PrescriptionVersion,
    User,
)
from service.db.uow import Database, UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Schedule
from service.knowledge import load
from service.notify.base import DeliveryReport, Message, Notifier
from service.notify.webhook import SIGNATURE_HEADER, WebhookNotifier
from service.usecases.dispatch import DispatchSummary, dispatch_due, queue_due_messages
from service.usecases.planning import plan
from service.usecases.reminders import REMINDER, ReminderPolicy

SEED = 42
TARGET_NOOP_PG_PER_S = 10_000.0
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105  (a local receiver, not a credential)

# The fixed clock: a weekday in February, when none of ZONES changes its offset within
# the planned window, and 30 s past a minute, so no dose (all on whole minutes) sits
# on a window's edge.
T0 = dt.datetime(2025, 2, 12, 12, 0, 30, tzinfo=dt.UTC)
ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
)
# Wall-clock times for a schedule of 1..4 doses a day.
SLOTS: dict[int, tuple[tuple[str, ...], ...]] = {
    1: (("08:00",), ("21:00",), ("09:30",)),
    2: (("08:00", "20:00"), ("07:30", "19:30"), ("09:00", "21:00")),
    3: (("08:00", "14:00", "20:00"), ("07:00", "13:00", "19:00")),
    4: (("07:00", "12:00", "17:00", "22:00"), ("06:00", "12:00", "18:00", "23:45")),
}
DOSES_PER_DAY = (1, 1, 2, 2, 2, 3, 4)
PRESCRIPTIONS_PER_PATIENT = (1, 2, 2, 3, 4)
AMOUNTS = ("0.5", "2", "5", "10", "20", "50", "250")

# Planning and queueing: the default horizon (48 h) and catch-up (24 h); no lead, so
# only doses at or before T0 are queued; an expiry longer than the catch-up, so none
# of the past day's reminders is expired. Every dose time of the past 24 hours thus
# queues exactly one reminder. Dispatch uses the default batch (500) and lease (60 s).
POLICY = ReminderPolicy(lead=dt.timedelta(0), expiry=dt.timedelta(days=2))

_USERS: Table = User.__table__  # type: ignore[attr-defined]
_PATIENTS: Table = Patient.__table__  # type: ignore[attr-defined]
_DEVICES: Table = Device.__table__  # type: ignore[attr-defined]
_RX: Table = Prescription.__table__  # type: ignore[attr-defined]
_VERSIONS: Table = PrescriptionVersion.__table__  # type: ignore[attr-defined]
_EVENTS: Table = DoseEvent.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = Notification.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sizes:
    reminders: int


FULL = Sizes(reminders=20_000)
QUICK = Sizes(reminders=2_000)


def fixed_clock() -> dt.datetime:
    """The dispatchers' clock: the due instant of every queued reminder."""
    return T0


@dataclass(kw_only=True)
class Setup:
    users: int = 0
    patients: int = 0
    devices: int = 0
    prescriptions: int = 0
    events_planned: int = 0
    queued: int = 0
    # What queue_due_messages reported: (reminders, follow-ups, expired).
    reported: tuple[int, int, int] = (0, 0, 0)
    seconds: float = 0.0


@dataclass(kw_only=True)
class Run:
    """One drain of the backlog."""

    notifier: str
    processes: int
    reminders: int
    sent: int = 0
    batches: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    per_process: list[tuple[int, int]] = field(default_factory=list)  # (sent, batches)
    lateness_ms: list[float] = field(default_factory=list)
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.sent / self.wall_s if self.wall_s else 0.0


@dataclass(kw_only=True)
class EngineResult:
    engine: str
    setup: Setup
    runs: list[Run] = field(default_factory=list)


# --- the notifier under test ----------------------------------------------------------


class NoopNotifier:
    """Accepts every message at once; remembers each key and when it was sent."""

    name = "bench-noop"

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.sent_at: list[float] = []

    def send(self, message: Message) -> DeliveryReport:
        self.sent_at.append(time.perf_counter())
        self.keys.append(message.idempotency_key)
        return DeliveryReport()

    def close(self) -> None:
        pass


# --- setup --------------------------------------------------------------------------


def populate(db: Database, kb: KnowledgeBase, n: int) -> Setup:
    """Patients with 1-4 prescriptions of 1-4 daily doses, until the dose times of a
    day add up to `n`; one or two devices each. Bulk core inserts."""
    rng = random.Random(SEED)  # noqa: S311  (reproducible data, not security)
    drugs = sorted(kb.catalog.drugs.values(), key=lambda d: d.id)
    written = T0 - dt.timedelta(days=10)
    clinician = uuid.uuid4()
    users: list[dict[str, Any]] = [
        {
            "id": clinician,
            "email": "bench-clinician@example.test",
            "name": "Bench Clinician",
            "role": "clinician",
            "password_hash": None,
            "is_active": True,
            "created_at": written,
        }
    ]
    patients: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    prescriptions: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    remaining = n
    while remaining > 0:
        i = len(patients)
        user_id, patient_id = uuid.uuid4(), uuid.uuid4()
        users.append(
            {
                "id": user_id,
                "email": f"bench-patient-{i}@example.test",
                "name": f"Bench Patient {i}",
                "role": "patient",
                "password_hash": None,
                "is_active": True,
                "created_at": written,
            }
        )
        patients.append(
            {
                "id": patient_id,
                "user_id": user_id,
                "date_of_birth": dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                "timezone": ZONES[i % len(ZONES)],
                "allergies": [],
                "pregnant": False,
                "activation_code_hash": None,
                "activation_expires_at": None,
                "activated_at": written,
                "created_by": clinician,
                "created_at": written,
            }
        )
        for d in range(1 + (i % 5 == 0)):
            devices.append(
                {
                    "id": uuid.uuid4(),
                    "user_id": user_id,
                    "platform": "fcm",
                    "endpoint": None,
                    "token": f"bench-token-{i}-{d}",
                    "keys": {},
                    "label": None,
                    "created_at": written,
                    "removed_at": None,
                    "removed_reason": None,
                }
            )
        for _ in range(rng.choice(PRESCRIPTIONS_PER_PATIENT)):
            if remaining <= 0:
                break
            k = min(rng.choice(DOSES_PER_DAY), remaining)
            times = rng.choice(SLOTS[max(k, 1)])[:k]
            remaining -= len(times)
            drug = rng.choice(drugs)
            rx_id = uuid.uuid4()
            prescriptions.append(
                {
                    "id": rx_id,
                    "patient_id": patient_id,
                    "current_version": 1,
                    "status": "active",
                    "created_by": clinician,
                    "created_at": written,
                    "updated_at": written,
                }
            )
            schedule = Schedule(times=tuple(dt.time.fromisoformat(t) for t in times))
            versions.append(
                {
                    "id": uuid.uuid4(),
                    "prescription_id": rx_id,
                    "version": 1,
                    "drug": drug.name,
                    "drug_id": drug.id,
                    "ingredients": [drug.id],
                    "dose_amount": Decimal(rng.choice(AMOUNTS)),
                    "dose_unit": "mg",
                    "route": "oral",
                    "schedule": schedule.to_json(),
                    "start_date": written.date(),
                    "end_date": None,
                    "instructions": None,
                    "status": "active",
                    "change": "create",
                    "reason": None,
                    "created_by": clinician,
                    "created_at": written,
                }
            )
    with db.engine.begin() as conn:
        for table, rows in (
            (_USERS, users),
            (_PATIENTS, patients),
            (_DEVICES, devices),
            (_RX, prescriptions),
            (_VERSIONS, versions),
        ):
            for start in range(0, len(rows), 5000):
                conn.execute(table.insert(), rows[start : start + 5000])
    return Setup(
        users=len(users),
        patients=len(patients),
        devices=len(devices),
        prescriptions=len(prescriptions),
    )


def vacuum(db: Database, engine: str) -> None:
    """PostgreSQL: what autovacuum would do (it is off on the bench server): clear the
    dead rows of the previous run and refresh the statistics. Not timed."""
    if engine != "postgresql":
        return
    with db.engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        auto.exec_driver_sql("VACUUM ANALYZE notifications")
        auto.exec_driver_sql("VACUUM ANALYZE dose_events")


def make_due(db: Database, engine: str, n: int) -> None:
    """Every reminder queued, unclaimed, never attempted and due at T0 (the timing
    start); their doses back to pending. Then checks that exactly `n` are due."""
    with db.engine.begin() as conn:
        conn.execute(
            update(_OUTBOX)
            .where(_OUTBOX.c.kind == REMINDER)
            .values(
                status="pending",
                claimed_by=None,
                attempts=0,
                due_at=T0,
                next_attempt_at=T0,
                sent_at=None,
                last_error=None,
                updated_at=T0,
            )
        )
        conn.execute(update(_EVENTS).where(_EVENTS.c.status == "reminded").values(status="pending"))
    vacuum(db, engine)
    with db.engine.connect() as conn:
        due = conn.execute(
            select(func.count())
            .select_from(_OUTBOX)
            .where(
                _OUTBOX.c.kind == REMINDER,
                _OUTBOX.c.status == "pending",
                _OUTBOX.c.next_attempt_at <= T0,
            )
        ).scalar_one()
        total = conn.execute(select(func.count()).select_from(_OUTBOX)).scalar_one()
    if due != n or total != n:
        raise RuntimeError(f"expected {n:,} due reminders, found {due:,} due of {total:,}")


def set_up(engine: str, db: Database, kb: KnowledgeBase, n: int) -> Setup:
    t0 = time.perf_counter()
    setup = populate(db, kb, n)
    with db.uow() as uow:
        setup.events_planned = plan(uow, kb, POLICY, now=T0)
        uow.commit()
    queued = queue_due_messages(uow=db.uow(), clock=fixed_clock, policy=POLICY)
    # make_due counts the rows themselves and fails unless exactly n reminders are
    # due; the summary's own counts are printed beside them when they differ.
    setup.reported = (queued.reminders, queued.follow_ups, queued.expired)
    make_due(db, engine, n)
    setup.queued = n
    setup.seconds = time.perf_counter() - t0
    return setup


# --- verification ---------------------------------------------------------------------


def verify_database(db: Database, n: int) -> list[str]:
    """Every reminder sent, each claimed exactly once; every dose marked reminded."""
    problems = []
    with db.engine.connect() as conn:
        by_status = select(_OUTBOX.c.status, func.count()).group_by(_OUTBOX.c.status)
        statuses = {str(r[0]): int(r[1]) for r in conn.execute(by_status)}
        reclaimed = conn.execute(
            select(func.count()).select_from(_OUTBOX).where(_OUTBOX.c.attempts != 1)
        ).scalar_one()
        reminded = conn.execute(
            select(func.count()).select_from(_EVENTS).where(_EVENTS.c.status == "reminded")
        ).scalar_one()
    if statuses != {"sent": n}:
        problems.append(f"outbox statuses {statuses}, expected {{'sent': {n}}}")
    if reclaimed:
        problems.append(f"{reclaimed} rows claimed more than once")
    if reminded != n:
        problems.append(f"{reminded} doses marked reminded, expected {n}")
    return problems


def verify_keys(keys: list[str], n: int, who: str) -> list[str]:
    counts = Counter(keys)
    dupes = sum(c - 1 for c in counts.values() if c > 1)
    problems = []
    if len(keys) != n:
        problems.append(f"{who}: {len(keys):,} sends, expected {n:,}")
    if dupes:
        problems.append(f"{who}: {dupes} duplicate sends")
    return problems


# --- timing breakdown ---------------------------------------------------------------------

# Product methods whose time is added up during a one-process run (a few calls per
# batch, so the wrapping costs nothing measurable).
_TIMED: tuple[tuple[type[Any], str, str], ...] = (
    (OutboxRepository, "claim", "claim"),
    (DoseRepository, "event_facts", "events"),
    (DeviceRepository, "device_facts", "devices"),
    (OutboxRepository, "settle", "settle"),
    (DoseRepository, "mark_reminded", "mark reminded"),
    (UnitOfWork, "commit", "commit"),
    (UnitOfWork, "__enter__", "uow open"),
    (UnitOfWork, "__exit__", "uow close"),
)


@contextlib.contextmanager
def timed_methods(totals: dict[str, float]) -> Iterator[None]:
    originals = [(cls, name, getattr(cls, name)) for cls, name, _ in _TIMED]

    def wrap(original: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[label] = totals.get(label, 0.0) + time.perf_counter() - t0

        return timed

    try:
        for (cls, name, label), (_, _, original) in zip(_TIMED, originals, strict=True):
            setattr(cls, name, wrap(original, label))
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


# --- one process ----------------------------------------------------------------------


def warm(db: Database) -> None:
    """Open a pooled connection before timing."""
    with db.uow() as uow:
        uow.ping()


def drain(db: Database, notifier: Notifier, *, profile: cProfile.Profile | None = None) -> Run:
    warm(db)
    worker = worker_id()
    run = Run(notifier=notifier.name, processes=1, reminders=0)
    c0 = time.process_time()
    t0 = time.perf_counter()
    if profile:
        profile.enable()
    with timed_methods(run.breakdown) if profile is None else contextlib.nullcontext():
        summary = dispatch_due(
            uow=db.uow(),
            clock=fixed_clock,
            notifier=notifier,
            policy=POLICY,
            worker=worker,
        )
    if profile:
        profile.disable()
    run.wall_s = time.perf_counter() - t0
    run.cpu_s = time.process_time() - c0
    record(run, summary)
    if isinstance(notifier, NoopNotifier):
        run.lateness_ms = [(s - t0) * 1000 for s in notifier.sent_at]
    return run


def record(run: Run, summary: DispatchSummary) -> None:
    run.sent += summary.sent
    run.batches += summary.batches
    run.per_process.append((summary.sent, summary.batches))
    if summary.sent != summary.claimed:
        run.problems.append(
            f"claimed {summary.claimed}, sent {summary.sent}, retried {summary.retried}, "
            f"failed {summary.failed}, withdrawn {summary.withdrawn}"
        )
    run.problems.extend(summary.errors[:3])


# --- two processes (PostgreSQL) -------------------------------------------------------


def _dispatcher_process(url: str, ready: BarrierType, out: multiprocessing.Queue[Any]) -> None:
    db = Database(url)
    try:
        warm(db)
        notifier = NoopNotifier()
        worker = worker_id()
        ready.wait(timeout=120)
        c0 = time.process_time()
        start = time.time()
        summary = dispatch_due(
            uow=db.uow(), clock=fixed_clock, notifier=notifier, policy=POLICY, worker=worker
        )
        end = time.time()
        # Plain values: a class defined in this (spawned) __main__ would not unpickle.
        out.put(
            {
                "keys": notifier.keys,
                "sent": summary.sent,
                "claimed": summary.claimed,
                "batches": summary.batches,
                "start": start,
                "end": end,
                "cpu_s": time.process_time() - c0,
                "error": "; ".join(summary.errors[:3]) or None,
            }
        )
    except Exception as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        db.dispose()


def drain_two(url: str, n: int) -> Run:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Barrier(3)
    out: multiprocessing.Queue[Any] = ctx.Queue()
    procs = [ctx.Process(target=_dispatcher_process, args=(url, ready, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results: list[dict[str, Any]] = []
    try:
        ready.wait(timeout=120)  # both started, imported and connected
        results = [out.get(timeout=600) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.terminate()
    errors = [str(r["error"]) for r in results if r.get("error")]
    if any("keys" not in r for r in results):
        raise RuntimeError(f"a dispatcher process failed: {errors}")
    run = Run(notifier=NoopNotifier.name, processes=2, reminders=n)
    run.problems.extend(errors)
    run.wall_s = max(r["end"] for r in results) - min(r["start"] for r in results)
    run.cpu_s = sum(r["cpu_s"] for r in results)
    for r in results:
        run.sent += r["sent"]
        run.batches += r["batches"]
        run.per_process.append((r["sent"], r["batches"]))
        if r["sent"] != r["claimed"]:
            run.problems.append(f"a process claimed {r['claimed']} and sent {r['sent']}")
    keys = [k for r in results for k in r["keys"]]
    run.problems.extend(verify_keys(keys, n, "two dispatchers"))
    return run


# --- the webhook receiver ---------------------------------------------------------------


def _receiver_process(
    secret: str,
    port_out: multiprocessing.Queue[Any],
    stop: EventType,
    out: multiprocessing.Queue[Any],
) -> None:
    """Answers 200 to every POST, counting Idempotency-Key values and bad signatures."""
    keys: Counter[str] = Counter()
    bad = [0]
    lock = threading.Lock()
    key = secret.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the notifier's session expects

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, self.headers.get(SIGNATURE_HEADER, ""))
            with lock:
                keys[self.headers.get("Idempotency-Key", "")] += 1
                bad[0] += not ok
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port_out.put(server.server_address[1])
    stop.wait()
    server.shutdown()
    server.server_close()
    with lock:
        out.put((sum(keys.values()), len(keys), bad[0]))


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, Callable[[], tuple[int, int, int]]]]:
    """A receiver process; yields its URL and a function that stops it and returns
    (requests, distinct keys, bad signatures)."""
    ctx = multiprocessing.get_context("spawn")
    port_q: multiprocessing.Queue[Any] = ctx.Queue()
    out: multiprocessing.Queue[Any] = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_receiver_process, args=(WEBHOOK_SECRET, port_q, stop, out))
    proc.start()
    counts: list[tuple[int, int, int]] = []

    def finish() -> tuple[int, int, int]:
        if not counts:
            stop.set()
            counts.append(out.get(timeout=60))
        return counts[0]

    try:
        port = port_q.get(timeout=60)
        yield f"http://127.0.0.1:{port}/reminders", finish
    finally:
        stop.set()
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()


def drain_webhook(db: Database, n: int) -> Run:
    with receiver() as (url, finish):
        notifier = WebhookNotifier(url=url, secret=WEBHOOK_SECRET)
        try:
            run = drain(db, notifier)
        finally:
            notifier.close()
        requests, distinct, bad = finish()
    run.reminders = n
    if requests != n or distinct != n:
        run.problems.append(f"receiver: {requests:,} requests, {distinct:,} distinct keys")
    if bad:
        run.problems.append(f"receiver: {bad} bad signatures")
    return run


# --- per engine -------------------------------------------------------------------------


def run_engine(engine: str, url: str, kb: KnowledgeBase, n: int, *, profile: bool) -> EngineResult:
    print(f"[{engine}] migrating ...", flush=True)
    upgrade(url)
    db = Database(url)
    try:
        print(f"[{engine}] setting up {n:,} due reminders ...", flush=True)
        setup = set_up(engine, db, kb, n)
        print(
            f"[{engine}] setup: {setup.patients:,} patients, {setup.prescriptions:,} "
            f"prescriptions, {setup.events_planned:,} dose events planned, "
            f"{setup.queued:,} reminders queued, in {setup.seconds:.1f} s (not timed)",
            flush=True,
        )
        result = EngineResult(engine=engine, setup=setup)

        print(f"[{engine}] one dispatcher, no-op notifier ...", flush=True)
        noop = NoopNotifier()
        run = drain(db, noop)
        run.reminders = n
        run.problems.extend(verify_keys(noop.keys, n, "no-op notifier"))
        run.problems.extend(verify_database(db, n))
        result.runs.append(run)

        if engine == "postgresql":
            make_due(db, engine, n)
            print(f"[{engine}] two dispatcher processes, no-op notifier ...", flush=True)
            run = drain_two(url, n)
            run.problems.extend(verify_database(db, n))
            result.runs.append(run)

        make_due(db, engine, n)
        print(f"[{engine}] one dispatcher, webhook notifier to a local receiver ...", flush=True)
        run = drain_webhook(db, n)
        run.problems.extend(verify_database(db, n))
        result.runs.append(run)

        if profile:
            make_due(db, engine, n)
            print(f"[{engine}] profiling one dispatcher, no-op notifier ...", flush=True)
            prof = cProfile.Profile()
            noop = NoopNotifier()
            run = drain(db, noop, profile=prof)
            problems = verify_keys(noop.keys, n, "profiled run") + verify_database(db, n)
            print_profile(
                f"{engine}: dispatch_due of {n:,}, no-op notifier, one process "
                f"({run.wall_s:.2f} s under the profiler, {run.per_s:,.0f}/s"
                f"{'; ' + '; '.join(problems) if problems else ''})",
                prof,
            )
    finally:
        db.dispose()
    return result


# --- report -----------------------------------------------------------------------------


def report(results: list[EngineResult], sizes: Sizes, quick: bool) -> None:
    print()
    print(
        f"Reminder dispatch benchmark: {sizes.reminders:,} reminders due at once, drained "
        f"by dispatch_due (batch {POLICY.batch}){'  [quick]' if quick else ''}"
    )
    head = (
        f"{'engine':<11} {'notifier':<10} {'procs':>5} {'sent':>7} {'batches':>7} "
        f"{'wall s':>7} {'per s':>8} {'CPU s':>6} {'target':>8} {'result':>6}  checks"
    )
    print(head)
    print("-" * len(head))
    for res in results:
        for r in res.runs:
            if res.engine == "postgresql" and r.notifier == NoopNotifier.name:
                target = f">={TARGET_NOOP_PG_PER_S:,.0f}"
                result = verdict(r.per_s >= TARGET_NOOP_PG_PER_S)
            else:
                target, result = "-", "-"
            label = "no-op" if r.notifier == NoopNotifier.name else r.notifier
            checks = "ok" if not r.problems else "; ".join(r.problems)
            print(
                f"{res.engine:<11} {label:<10} {r.processes:>5} {r.sent:>7,} {r.batches:>7} "
                f"{r.wall_s:>7.2f} {r.per_s:>8,.0f} {r.cpu_s:>6.2f} {target:>8} "
                f"{result:>6}  {checks}"
            )
    print()
    print(f"Time to send from due (backlog of {sizes.reminders:,}, all due at the timing start):")
    for res in results:
        r = res.runs[0]
        lat = r.lateness_ms
        print(
            f"  {res.engine:<11} first {min(lat):,.1f} ms, p50 {percentile(lat, 50):,.1f} ms, "
            f"p99 {percentile(lat, 99):,.1f} ms, last {max(lat):,.1f} ms"
        )
    print()
    print("Where the one-process no-op run's time goes (s):")
    for res in results:
        r = res.runs[0]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in r.breakdown.items())
        print(f"  {res.engine:<11} {parts}, rest {r.wall_s - sum(r.breakdown.values()):.2f}")
    print(
        "  (claim = UPDATE ... RETURNING; events, devices = row loads by id; settle, "
        "mark reminded = UPDATEs by id; commit; uow open/close = session, rollback; rest = "
        "Python in dispatch_batch: messages, the loop, the notifier)"
    )
    for res in results:
        two = [r for r in res.runs if r.processes == 2]
        if two:
            split = ", ".join(f"{s:,} sent in {b} batches" for s, b in two[0].per_process)
            print(f"Two dispatchers on {res.engine}: {split}")
    print()
    print(
        f"Target: no-op notifier on PostgreSQL >= {TARGET_NOOP_PG_PER_S:,.0f} reminders/s "
        "(one and two processes); the other figures have no target yet. 'CPU s' = CPU time "
        "of the dispatcher process(es) (PostgreSQL's own CPU is not included). 'checks': "
        "every reminder sent exactly once (outbox statuses, attempts = 1, keys seen by "
        "the notifier or the receiver, signatures)."
    )
    for res in results:
        s = res.setup
        print(
            f"  {res.engine}: setup {s.seconds:.1f} s (not timed): {s.users:,} users, "
            f"{s.patients:,} patients, {s.devices:,} devices, {s.prescriptions:,} "
            f"prescriptions, {s.events_planned:,} dose events planned, {s.queued:,} queued"
        )
        if s.reported != (s.queued, 0, 0):
            print(
                f"  {res.engine}: note: queue_due_messages reported (reminders, follow-ups, "
                f"expired) = {s.reported}; the outbox holds {s.queued:,} due reminders, "
                "0 follow-ups, 0 expired (counted by SQL)"
            )
    print(machine_line())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reminders", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 reminders instead of 20,000")
    add_engine_arguments(parser)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the timed runs, cProfile one more one-process no-op dispatch",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)

    kb = load()
    results = []
    with tempfile.TemporaryDirectory(prefix="medtrack-bench-") as tmp_dir:
        for engine in engines:
            if engine == "sqlite":
                database: contextlib.AbstractContextManager[str] = contextlib.nullcontext(
                    f"sqlite:///{Path(tmp_dir) / 'bench.sqlite'}"
                )
            else:
                database = postgres_database(args.postgres_url)
            with database as url:
                results.append(run_engine(engine, url, kb, sizes.reminders, profile=args.profile))
    report(results, sizes, args.quick)
    failed = [r for res in results for r in res.runs if r.problems]
    if failed:
        print("VERIFICATION FAILED: see 'checks' above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
