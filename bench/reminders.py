"""Benchmark: reminder dispatch against the baseline of one APScheduler job per reminder.

Builds a fresh, migrated database with N reminders (100,000; 5,000 with --quick):
patients, prescriptions and devices are bulk-inserted, then the product's `plan`
materialises the dose events and `queue_due_messages` queues the reminders, with a
fixed clock. Then, on each engine:

1. Throughput. All N reminders are made due at the timing start and the product's
   `dispatch_due` drains the backlog: with an in-process no-op notifier in one
   process, and in two processes at once (claims use FOR UPDATE SKIP LOCKED on
   PostgreSQL; SQLite serialises the claims); and, for the first 20,000 (2,000)
   reminders only, with the real `WebhookNotifier` posting to a local receiver in
   another process, which counts the distinct Idempotency-Key values and checks the
   signatures. The one-process no-op run also gives the time from the due instant to
   each send: how long a backlog of N takes to drain.
2. Lateness at a steady 1,000 due reminders per second. 30,000 (5,000) reminders are
   made due one per millisecond over 30 s (5 s) of real time, and the product's
   scheduler (`schedules.app.build_scheduler` with only its dispatch job, which calls
   `Jobs.dispatch` on an IntervalTrigger) sends them with the no-op notifier, at the
   default dispatch interval (2 s), at the shortest the settings allow (1 s), and at
   0.5 s, which no setting offers (only the job's trigger is replaced). Lateness is
   the time of the send minus the time due.
3. The baseline (`bench/baseline.py`): one APScheduler 3 `DateTrigger` job per
   reminder in a `SQLAlchemyJobStore` on the same database, run by a
   `BackgroundScheduler` with a pool of 10 threads, calling the same no-op notifier.
   Its throughput on 20,000 (2,000) due jobs (adding them is timed on its own, not in
   the rate) and its lateness at the same steady 1,000 per second. The report gives
   the product's no-op throughput over the baseline's.

Targets: with the no-op notifier on PostgreSQL, at least 10,000 reminders/s (one or
two dispatcher processes); at least 20 times the baseline's throughput; p99 lateness
at most 1 s at 1,000 due reminders/s on PostgreSQL.

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
import logging
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier as BarrierType
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    JobEvent,
)
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Table, bindparam, func, select, update

from bench import baseline
from bench.baseline import BaselineRun
from bench.common import (
    add_engine_arguments,
    engines,
    fresh_database,
    machine_line,
    percentile,
    print_profile,
    timed_methods,
    vacuum,
    verdict,
    warm,
)
from bench.noop import NoopNotifier, canonical
from bench.receiver import Receiver
from bench.seeding import (
    PRESCRIPTIONS_PER_PATIENT,
    SEED,
    T0,
    ZONES,
    Seed,
    fixed_clock,
    random_regimen,
)
from schedules.app import DISPATCH, Jobs, build_scheduler, worker_id
from service.db.devices import DeviceRepository
from service.db.doses import DoseRepository
from service.db.outbox import OutboxRepository
from service.db.tables import DoseEvent, Notification
from service.db.uow import Database, UnitOfWork
from service.domain.accounts import Role
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.messages import MessageKind, MessageStatus
from service.knowledge import load
from service.notify.base import Notifier
from service.notify.webhook import WebhookNotifier
from service.usecases.dispatch import DispatchSummary, dispatch_due, queue_due_messages
from service.usecases.planning import plan
from service.usecases.reminders import ReminderPolicy

TARGET_NOOP_PG_PER_S = 10_000.0
TARGET_RATIO = 20.0
TARGET_P99_MS = 1000.0
# The steady runs: reminders due per second, and the dispatch intervals (s) of the
# product's scheduler they run at: the default, and two longer settings.
STEADY_RATE = 1000
DEFAULT_CADENCE = 0.5
CADENCES = (2.0, 1.0, DEFAULT_CADENCE)
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105  (a local receiver, not a credential)

# Planning and queueing: the default horizon (48 h) and catch-up (24 h); no lead, so
# only doses at or before T0 are queued; an expiry longer than the catch-up, so none
# of the past day's reminders is expired. Every dose time of the past 24 hours thus
# queues exactly one reminder. Dispatch uses the default batch (500) and lease (60 s).
POLICY = ReminderPolicy(lead=dt.timedelta(0), expiry=dt.timedelta(days=2))

_EVENTS: Table = DoseEvent.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = Notification.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sizes:
    reminders: int  # queued; the no-op runs drain them all
    webhook: int  # the webhook run drains the first this many
    steady_seconds: int  # the steady runs' window, at STEADY_RATE due per second
    baseline: int  # the baseline's throughput run


FULL = Sizes(reminders=100_000, webhook=20_000, steady_seconds=30, baseline=20_000)
QUICK = Sizes(reminders=5_000, webhook=2_000, steady_seconds=5, baseline=2_000)


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
class Steady:
    """One run of the product's scheduler at a steady rate of due reminders."""

    cadence: float  # the dispatch job's interval, s
    reminders: int
    sent: int = 0
    job_runs: int = 0
    skipped_runs: int = 0  # ticks skipped because the previous run was still going
    cpu_s: float = 0.0
    lateness_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class EngineResult:
    engine: str
    setup: Setup
    runs: list[Run] = field(default_factory=list)
    steady: list[Steady] = field(default_factory=list)
    baseline: BaselineRun | None = None
    baseline_steady: BaselineRun | None = None

    def problems(self) -> list[str]:
        found = [p for r in self.runs for p in r.problems]
        found += [p for r in self.steady for p in r.problems]
        found += [p for b in (self.baseline, self.baseline_steady) if b for p in b.problems]
        return found


# --- setup --------------------------------------------------------------------------


def populate(db: Database, kb: KnowledgeBase, n: int) -> Setup:
    """Patients with 1-4 prescriptions of 1-4 daily doses, until the dose times of a
    day add up to `n`; one or two devices each. Bulk core inserts."""
    rng = random.Random(SEED)  # noqa: S311  (reproducible data, not security)
    drugs = sorted(kb.catalog.drugs.values(), key=lambda d: d.id)
    seed = Seed(at=T0 - dt.timedelta(days=10))
    clinician = seed.user(Role.CLINICIAN)
    remaining = n
    while remaining > 0:
        i = seed.patients
        user_id, patient_id = seed.patient(ZONES[i % len(ZONES)], clinician=clinician)
        for d in range(1 + (i % 5 == 0)):
            seed.device(user_id, f"bench-token-{i}-{d}")
        for _ in range(rng.choice(PRESCRIPTIONS_PER_PATIENT)):
            if remaining <= 0:
                break
            regimen = random_regimen(rng, drugs, most=remaining)
            remaining -= len(regimen.times)
            seed.prescription(patient_id, regimen, clinician=clinician, start=seed.at.date())
    seed.write(db)
    return Setup(
        users=seed.users,
        patients=seed.patients,
        devices=seed.devices,
        prescriptions=seed.prescriptions,
    )


def make_due(
    db: Database, n: int, *, count: int | None = None, spread_from: float | None = None
) -> dict[str, float]:
    """Puts the first `count` reminders (by id; all `n` by default) back in the queue:
    unclaimed, never attempted and due at T0 (the timing start), or, with
    `spread_from` (epoch seconds), due at `spread_from` + i / STEADY_RATE; their doses
    back to pending. The other reminders are left as sent once, their doses reminded.
    Then checks that exactly `count` reminders are queued and `n` in all, and returns
    the queued ones' keys with their due instants (epoch seconds)."""
    count = n if count is None else count
    o = _OUTBOX
    with db.engine.begin() as conn:
        rows = conn.execute(
            select(o.c.id, o.c.idempotency_key)
            .where(o.c.kind == MessageKind.REMINDER)
            .order_by(o.c.id)
        ).all()
        queued = rows[:count]
        last = queued[-1][0]
        conn.execute(
            update(o)
            .where(o.c.kind == MessageKind.REMINDER, o.c.id <= last)
            .values(
                status=MessageStatus.PENDING,
                claimed_by=None,
                attempts=0,
                due_at=T0,
                next_attempt_at=T0,
                sent_at=None,
                last_error=None,
                updated_at=T0,
            )
        )
        conn.execute(
            update(o)
            .where(o.c.kind == MessageKind.REMINDER, o.c.id > last)
            .values(
                status=MessageStatus.SENT,
                claimed_by=None,
                attempts=1,
                sent_at=T0,
                last_error=None,
                updated_at=T0,
            )
        )
        if spread_from is None:
            due = dict.fromkeys((key for _, key in queued), T0.timestamp())
        else:
            due = {key: spread_from + i / STEADY_RATE for i, (_, key) in enumerate(queued)}
            at = o.c.due_at.type
            conn.execute(
                update(o)
                .where(o.c.id == bindparam("row_id"))
                .values(
                    due_at=bindparam("due", type_=at), next_attempt_at=bindparam("next", type_=at)
                ),
                [
                    {"row_id": row_id, "due": when, "next": when}
                    for row_id, when in (
                        (row_id, dt.datetime.fromtimestamp(due[key], dt.UTC))
                        for row_id, key in queued
                    )
                ],
            )
        for status, dose_status in (
            (MessageStatus.PENDING, DoseStatus.PENDING),
            (MessageStatus.SENT, DoseStatus.REMINDED),
        ):
            conn.execute(
                update(_EVENTS)
                .where(_EVENTS.c.id.in_(select(o.c.dose_event_id).where(o.c.status == status)))
                .values(status=dose_status)
            )
    vacuum(db, "notifications", "dose_events", checkpoint=True)
    with db.engine.connect() as conn:
        pending = conn.execute(
            select(func.count())
            .select_from(o)
            .where(o.c.kind == MessageKind.REMINDER, o.c.status == MessageStatus.PENDING)
        ).scalar_one()
        total = conn.execute(select(func.count()).select_from(o)).scalar_one()
    if pending != count or total != n:
        raise RuntimeError(
            f"expected {count:,} queued reminders of {n:,}, found {pending:,} of {total:,}"
        )
    return due


def set_up(db: Database, kb: KnowledgeBase, n: int) -> Setup:
    t0 = time.perf_counter()
    setup = populate(db, kb, n)
    with db.uow() as uow:
        setup.events_planned = plan(uow, kb, POLICY, now=T0)
        uow.commit()
    queued = queue_due_messages(uow=db.uow(), clock=fixed_clock, policy=POLICY)
    # make_due counts the rows themselves and fails unless exactly n reminders are
    # due; the summary's own counts are printed beside them when they differ.
    setup.reported = (queued.reminders, queued.follow_ups, queued.expired)
    make_due(db, n)
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
            select(func.count()).select_from(_EVENTS).where(_EVENTS.c.status == DoseStatus.REMINDED)
        ).scalar_one()
    if statuses != {MessageStatus.SENT: n}:
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
    (OutboxRepository, "expire", "expire"),
    (OutboxRepository, "claim", "claim"),
    (DoseRepository, "event_facts", "events"),
    (DeviceRepository, "device_facts", "devices"),
    (OutboxRepository, "settle", "settle"),
    (DoseRepository, "mark_reminded", "mark reminded"),
    (UnitOfWork, "commit", "commit"),
    (UnitOfWork, "__enter__", "uow open"),
    (UnitOfWork, "__exit__", "uow close"),
)


# --- one process ----------------------------------------------------------------------


def drain(db: Database, notifier: Notifier, *, profile: cProfile.Profile | None = None) -> Run:
    warm(db)
    worker = worker_id()
    run = Run(notifier=notifier.name, processes=1, reminders=0)
    c0 = time.process_time()
    t0 = time.perf_counter()
    start = time.time()
    if profile:
        profile.enable()
    with timed_methods(_TIMED, run.breakdown) if profile is None else contextlib.nullcontext():
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
        run.lateness_ms = [(s - start) * 1000 for s in notifier.sent_at]
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


# --- two processes ----------------------------------------------------------------------


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
    url_out: multiprocessing.Queue[Any],
    stop: EventType,
    out: multiprocessing.Queue[Any],
) -> None:
    """The webhook receiver, answering 200 to every well-signed POST, until `stop`; then
    (reminders carried, distinct reminders, bad signatures) on `out`: a POST carries
    each dose of one patient due at its instant."""
    receiver = Receiver(secret=secret).start()
    url_out.put(receiver.url)
    stop.wait()
    receiver.stop()
    deliveries = receiver.deliveries()
    carried = [f"{d.kind}:{dose}" for d in deliveries for dose in (d.dose_ids or (d.key,))]
    out.put((len(carried), len(set(carried)), sum(not d.signed for d in deliveries)))


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, Callable[[], tuple[int, int, int]]]]:
    """The receiver in a process of its own (so it takes no CPU from the dispatcher's
    interpreter); yields its URL and a function that stops it and returns (reminders
    carried, distinct reminders, bad signatures)."""
    ctx = multiprocessing.get_context("spawn")
    url_q: multiprocessing.Queue[Any] = ctx.Queue()
    out: multiprocessing.Queue[Any] = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_receiver_process, args=(WEBHOOK_SECRET, url_q, stop, out))
    proc.start()
    counts: list[tuple[int, int, int]] = []

    def finish() -> tuple[int, int, int]:
        if not counts:
            stop.set()
            counts.append(out.get(timeout=60))
        return counts[0]

    try:
        yield url_q.get(timeout=60), finish
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
        run.problems.append(f"receiver: {requests:,} reminders carried, {distinct:,} distinct")
    if bad:
        run.problems.append(f"receiver: {bad} bad signatures")
    return run


# --- the product's scheduler at a steady rate ------------------------------------------------


def steady_due(db: Database, n: int, count: int) -> dict[str, float]:
    """Queues `count` reminders due one every 1/STEADY_RATE s from a start a few seconds
    ahead; if writing them took so long that the start is less than half a second
    away, writes them again with more room (at most twice)."""
    room = 3.0 + count / 5000
    for _ in range(3):
        first = time.time() + room
        due = make_due(db, n, count=count, spread_from=first)
        if time.time() < first - 0.5:
            return due
        room *= 2
    raise RuntimeError("could not queue the steady run's reminders ahead of their due time")


def run_steady(db: Database, kb: KnowledgeBase, due: dict[str, float], cadence: float) -> Steady:
    """The product's scheduler (`build_scheduler`, its dispatch job alone, every
    `cadence` s) with the real clock and the no-op notifier, until every reminder in
    `due` is sent; each send's lateness against its due instant. A cadence under a
    second (the settings' minimum) replaces only the dispatch job's trigger."""
    notifier = NoopNotifier()
    jobs = Jobs(database=db, kb=kb, notifier=notifier, policy=POLICY)
    scheduler = build_scheduler(jobs, dispatch_seconds=max(1, int(cadence)))
    if cadence != int(cadence):
        scheduler.reschedule_job(DISPATCH, trigger=IntervalTrigger(seconds=cadence))
    # Planning, queueing and follow-ups would act on the bench's past doses.
    for job in scheduler.get_jobs():
        if job.id != DISPATCH:
            scheduler.remove_job(job.id)
    run = Steady(cadence=cadence, reminders=len(due))

    def count(event: JobEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            run.skipped_runs += 1
            return
        run.job_runs += 1
        if event.code == EVENT_JOB_ERROR:
            run.problems.append(f"steady: the dispatch job raised {event.exception!r}")

    scheduler.add_listener(count, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    thread = threading.Thread(target=scheduler.start, name="bench-scheduler", daemon=True)
    c0 = time.process_time()
    thread.start()
    try:
        timeout = max(due.values()) - time.time() + 60 + len(due) / 1000
        if not notifier.wait_for(len(due), timeout):
            run.problems.append(f"steady: {len(notifier.sends):,} of {len(due):,} sent in time")
        run.cpu_s = time.process_time() - c0
    finally:
        jobs.stopping.set()
        scheduler.shutdown(wait=True)
        thread.join(timeout=60)
        jobs.release()
    run.sent = len(notifier.sends)
    due_by_key = {canonical(k): t for k, t in due.items()}
    run.lateness_ms = [(t - due_by_key[k]) * 1000 for k, t in notifier.sends if k in due_by_key]
    run.problems.extend(verify_keys(notifier.keys, len(due), f"steady every {cadence:g} s"))
    unknown = len(set(notifier.keys) - set(due_by_key))
    if unknown:
        run.problems.append(f"steady: {unknown} sends of reminders that were not queued")
    return run


# --- per engine -------------------------------------------------------------------------


def run_engine(
    engine: str, url: str, kb: KnowledgeBase, sizes: Sizes, *, profile: bool
) -> EngineResult:
    n = sizes.reminders
    db = Database(url)
    try:
        print(f"[{engine}] setting up {n:,} due reminders ...", flush=True)
        setup = set_up(db, kb, n)
        print(
            f"[{engine}] setup: {setup.patients:,} patients, {setup.prescriptions:,} "
            f"prescriptions, {setup.events_planned:,} dose events planned, "
            f"{setup.queued:,} reminders queued, in {setup.seconds:.1f} s (not timed)",
            flush=True,
        )
        result = EngineResult(engine=engine, setup=setup)

        print(f"[{engine}] one dispatcher, no-op notifier, {n:,} due ...", flush=True)
        noop = NoopNotifier()
        run = drain(db, noop)
        run.reminders = n
        run.problems.extend(verify_keys(noop.keys, n, "no-op notifier"))
        run.problems.extend(verify_database(db, n))
        result.runs.append(run)

        make_due(db, n)
        print(f"[{engine}] two dispatcher processes, no-op notifier, {n:,} due ...", flush=True)
        run = drain_two(url, n)
        run.problems.extend(verify_database(db, n))
        result.runs.append(run)

        m = min(sizes.webhook, n)
        make_due(db, n, count=m)
        print(f"[{engine}] one dispatcher, webhook notifier, {m:,} due ...", flush=True)
        run = drain_webhook(db, m)
        run.problems.extend(verify_database(db, n))
        result.runs.append(run)

        k = min(STEADY_RATE * sizes.steady_seconds, n)
        for cadence in CADENCES:
            due = steady_due(db, n, k)
            print(
                f"[{engine}] scheduler, dispatch every {cadence:g} s, {k:,} reminders due at "
                f"{STEADY_RATE:,}/s ...",
                flush=True,
            )
            steady = run_steady(db, kb, due, cadence)
            steady.problems.extend(verify_database(db, n))
            result.steady.append(steady)

        print(
            f"[{engine}] baseline: {sizes.baseline:,} APScheduler DateTrigger jobs due ...",
            flush=True,
        )
        result.baseline = baseline.throughput(url, sizes.baseline)
        print(
            f"[{engine}] baseline: {k:,} APScheduler DateTrigger jobs due at {STEADY_RATE:,}/s ...",
            flush=True,
        )
        result.baseline_steady = baseline.steady(
            url, rate=STEADY_RATE, seconds=sizes.steady_seconds
        )

        if profile:
            make_due(db, n)
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


def _checks(problems: list[str]) -> str:
    return "ok" if not problems else "; ".join(problems)


def _noop_rate(res: EngineResult, processes: int) -> float:
    runs = [r for r in res.runs if r.notifier == NoopNotifier.name and r.processes == processes]
    return runs[0].per_s if runs else 0.0


def report_throughput(results: list[EngineResult], sizes: Sizes) -> None:
    print(
        f"1. Throughput: a backlog due at once, drained by dispatch_due (batch "
        f"{POLICY.batch}, lease {POLICY.lease.total_seconds():.0f} s)"
    )
    head = (
        f"{'engine':<11} {'notifier':<9} {'procs':>5} {'sent':>8} {'batches':>7} "
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
            print(
                f"{res.engine:<11} {label:<9} {r.processes:>5} {r.sent:>8,} {r.batches:>7} "
                f"{r.wall_s:>7.2f} {r.per_s:>8,.0f} {r.cpu_s:>6.2f} {target:>8} "
                f"{result:>6}  {_checks(r.problems)}"
            )
    if sizes.webhook < sizes.reminders:
        rates = [r.per_s for res in results for r in res.runs if r.notifier != NoopNotifier.name]
        slowest = min((r for r in rates if r), default=0.0)
        estimate = (
            f"; all {sizes.reminders:,} would take about {sizes.reminders / slowest:,.0f} s at "
            f"{slowest:,.0f}/s"
            if slowest
            else ""
        )
        print(
            f"The webhook runs send the first {sizes.webhook:,} of the {sizes.reminders:,} "
            f"reminders only, one signed POST at a time{estimate}."
        )
    print(f"Time to send from due (backlog of {sizes.reminders:,}, all due at the timing start):")
    for res in results:
        lat = res.runs[0].lateness_ms
        if lat:
            print(
                f"  {res.engine:<11} first {min(lat):,.1f} ms, p50 {percentile(lat, 50):,.1f} "
                f"ms, p99 {percentile(lat, 99):,.1f} ms, last {max(lat):,.1f} ms"
            )
    print("Where the one-process no-op run's time goes (s):")
    for res in results:
        r = res.runs[0]
        parts = ", ".join(f"{k} {v:.2f}" for k, v in r.breakdown.items())
        print(f"  {res.engine:<11} {parts}, rest {r.wall_s - sum(r.breakdown.values()):.2f}")
    print(
        "  (expire = the first batch's UPDATE of what is too old to send; "
        "claim = UPDATE ... RETURNING, on PostgreSQL with the dose events joined; events, "
        "devices = row loads by id (no events query on PostgreSQL); settle, mark reminded = "
        "UPDATEs by id; commit; uow open/close = session, rollback; rest = Python in "
        "dispatch_batch: messages, the loop, the notifier)"
    )
    for res in results:
        for r in res.runs:
            if r.processes == 2:
                split = ", ".join(f"{s:,} sent in {b} batches" for s, b in r.per_process)
                print(f"Two dispatchers on {res.engine}: {split}")


def _cadence_label(cadence: float) -> str:
    note = " (default)" if cadence == DEFAULT_CADENCE else ""
    return f"medtrack, every {cadence:g} s{note}"


def report_lateness(results: list[EngineResult], sizes: Sizes) -> None:
    k = STEADY_RATE * sizes.steady_seconds
    print(
        f"2. Lateness at a steady {STEADY_RATE:,} due reminders/s for {sizes.steady_seconds} s "
        f"({k:,} reminders): time sent minus time due, no-op notifier"
    )
    head = (
        f"{'engine':<11} {'system':<34} {'sent':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'runs':>5} {'skip':>4} {'CPU s':>6} {'target':>7} {'result':>6}  checks"
    )
    print(head)
    print("-" * len(head))
    for res in results:
        rows: list[tuple[str, int, list[float], str, str, float, list[str], bool]] = [
            (
                _cadence_label(st.cadence),
                st.sent,
                st.lateness_ms,
                str(st.job_runs),
                str(st.skipped_runs),
                st.cpu_s,
                st.problems,
                True,
            )
            for st in res.steady
        ]
        b = res.baseline_steady
        if b is not None:
            rows.append(
                (
                    "baseline, a DateTrigger job each",
                    b.delivered,
                    b.lateness_ms,
                    "-",
                    "-",
                    b.cpu_s,
                    b.problems,
                    False,
                )
            )
        for label, sent, lat, runs, skipped, cpu, problems, ours in rows:
            if res.engine == "postgresql" and ours and lat:
                target = f"<={TARGET_P99_MS:,.0f}"
                result = verdict(percentile(lat, 99) <= TARGET_P99_MS)
            else:
                target, result = "-", "-"
            p50, p99, top = (
                (percentile(lat, 50), percentile(lat, 99), max(lat)) if lat else (0.0, 0.0, 0.0)
            )
            print(
                f"{res.engine:<11} {label:<34} {sent:>6,} {p50:>7,.0f} {p99:>7,.0f} "
                f"{top:>7,.0f} {runs:>5} {skipped:>4} {cpu:>6.2f} {target:>7} {result:>6}  "
                f"{_checks(problems)}"
            )
    print(
        "  medtrack: the product's scheduler (build_scheduler, its dispatch job alone, "
        "calling Jobs.dispatch) with the real clock, at MEDTRACK_DISPATCH_INTERVAL_SECONDS "
        f"of {DEFAULT_CADENCE:g} s (the default) and two longer settings. A reminder waits "
        "for the job's next run, so the interval bounds the lateness from below. runs = "
        "runs of the dispatch job, skip = ticks skipped because the previous run was still "
        "going."
    )
    for res in results:
        b = res.baseline_steady
        if b is not None:
            print(
                f"  baseline on {res.engine}: {b.jobs:,} jobs added in {b.setup_s:.1f} s "
                "beforehand (not timed; on PostgreSQL with synchronous_commit off for the "
                "adding only), then a fresh scheduler ran them"
            )


def report_baseline(results: list[EngineResult]) -> None:
    print(
        "3. Baseline: APScheduler 3 BackgroundScheduler, SQLAlchemyJobStore on the same "
        f"database, ThreadPoolExecutor({baseline.THREADS}), one DateTrigger job per reminder "
        "(run date passed), the same no-op notifier"
    )
    head = (
        f"{'engine':<11} {'jobs':>7} {'setup s':>8} {'adds/s':>7} {'wall s':>7} "
        f"{'per s':>7} {'CPU s':>6} {'medtrack/s':>10} {'ratio':>7} {'2 procs':>8} "
        f"{'target':>7} {'result':>6}  checks"
    )
    print(head)
    print("-" * len(head))
    for res in results:
        b = res.baseline
        if b is None:
            continue
        one, two = _noop_rate(res, 1), _noop_rate(res, 2)
        ratio = one / b.per_s if b.per_s else 0.0
        ratio2 = two / b.per_s if b.per_s else 0.0
        print(
            f"{res.engine:<11} {b.jobs:>7,} {b.setup_s:>8.1f} {b.adds_per_s:>7,.0f} "
            f"{b.wall_s:>7.2f} {b.per_s:>7,.0f} {b.cpu_s:>6.2f} {one:>10,.0f} "
            f"{ratio:>6.1f}x {ratio2:>7.1f}x {f'>={TARGET_RATIO:.0f}x':>7} "
            f"{verdict(ratio >= TARGET_RATIO):>6}  {_checks(b.problems)}"
        )
    print(
        "  setup = adding the jobs to the job store while the scheduler is paused (not in "
        "the rate); wall = from resuming to the last delivery; medtrack/s = the one-process "
        "no-op throughput above on the same engine, ratio = medtrack/s over the baseline's "
        "per s; '2 procs' = the same with two dispatcher processes."
    )


def report_targets(results: list[EngineResult]) -> None:
    print("Targets:")
    for res in results:
        if res.engine == "postgresql":
            one, two = _noop_rate(res, 1), _noop_rate(res, 2)
            met = max(one, two) >= TARGET_NOOP_PG_PER_S
            print(
                f"  no-op notifier on PostgreSQL >= {TARGET_NOOP_PG_PER_S:,.0f} reminders/s: "
                f"one process {one:,.0f}/s {verdict(one >= TARGET_NOOP_PG_PER_S)}, two "
                f"processes {two:,.0f}/s {verdict(two >= TARGET_NOOP_PG_PER_S)}: "
                f"{'met' if met else 'not met'}"
            )
    for res in results:
        b = res.baseline
        if b is not None and b.per_s:
            ratio = _noop_rate(res, 1) / b.per_s
            print(
                f"  >= {TARGET_RATIO:.0f}x the baseline on {res.engine} (one process each): "
                f"{ratio:,.1f}x {verdict(ratio >= TARGET_RATIO)}"
            )
    for res in results:
        if res.engine == "postgresql":
            parts = [
                f"every {st.cadence:g} s p99 {percentile(st.lateness_ms, 99):,.0f} ms "
                f"{verdict(percentile(st.lateness_ms, 99) <= TARGET_P99_MS)}"
                for st in res.steady
                if st.lateness_ms
            ]
            print(
                f"  p99 lateness <= {TARGET_P99_MS:,.0f} ms at {STEADY_RATE:,} due/s on "
                f"PostgreSQL: {', '.join(parts)}"
            )


def report(results: list[EngineResult], sizes: Sizes, quick: bool) -> None:
    print()
    print(
        f"Reminder dispatch benchmark{' [quick]' if quick else ''}: {sizes.reminders:,} "
        "reminders queued per engine"
    )
    print()
    report_throughput(results, sizes)
    print()
    report_lateness(results, sizes)
    print()
    report_baseline(results)
    print()
    report_targets(results)
    print(
        "'CPU s' = CPU time of the benchmark's process(es) during the run (PostgreSQL's own "
        "CPU is not included). 'checks': every reminder sent exactly once (outbox statuses, "
        "attempts = 1, doses reminded, the keys the notifier or the receiver saw, "
        "signatures; for the baseline, the keys delivered, APScheduler's error and miss "
        "events, and an empty job store)."
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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5,000 reminders instead of 100,000, steady runs of 5 s instead of 30 s",
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the timed runs, cProfile one more one-process no-op dispatch",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    # The scheduler's own warnings (a run skipped while the last one is still going)
    # are counted in the report instead.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)

    kb = load()
    results = []
    with tempfile.TemporaryDirectory(prefix="medtrack-bench-") as tmp_dir:
        for engine in engines(args):
            with fresh_database(engine, args.postgres_url, Path(tmp_dir)) as url:
                results.append(run_engine(engine, url, kb, sizes, profile=args.profile))
    report(results, sizes, args.quick)
    if any(res.problems() for res in results):
        print("VERIFICATION FAILED: see 'checks' above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
