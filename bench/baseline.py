"""The baseline of the reminder benchmark: what a user would build without the
product's outbox, one APScheduler 3 job per reminder.

A `BackgroundScheduler` (UTC) keeps its jobs in a `SQLAlchemyJobStore` on the same
database as the product (its own table, `bench_apscheduler_jobs`) and runs them on a
`ThreadPoolExecutor` of 10 threads (APScheduler's default size). Each reminder is one
`DateTrigger` job whose function, `deliver`, builds the reminder's `Message` and hands
it to the same no-op notifier the product's dispatcher calls. Jobs neither coalesce
nor misfire (`misfire_grace_time=None`): every reminder is delivered however late.

The job store's engine has the product's settings (SQLite: WAL, `synchronous=NORMAL`,
busy timeout; PostgreSQL: psycopg 3, a pool of 10) except the pool's pre-ping, which
the job store's own default engine does not have either.

Two measurements, each in a fresh scheduler:

- `throughput`: N jobs whose run date has passed are added while the scheduler is
  paused (setup, timed on its own), then the scheduler resumes; reminders/s is N over
  the time from the resume to the last delivery.
- `steady`: jobs whose run dates are spread at a fixed rate over a window that starts
  after the setup; lateness is each delivery's time minus its job's run date.

After each it checks that every reminder was delivered exactly once (no duplicate,
none lost), that APScheduler reported no job error, miss or skipped instance, and
that the job table is empty.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, MetaData, Table, create_engine, func, select
from sqlalchemy.engine import make_url

from bench.noop import NoopNotifier
from service.db.engine import make_engine, normalise_url
from service.notify.base import Message
from service.usecases.reminders import REMINDER

JOB_TABLE = "bench_apscheduler_jobs"
THREADS = 10
# The notifier `deliver` calls: a job runs in the scheduler's pool, which finds it by
# importing this module; each measurement clears it first.
NOTIFIER = NoopNotifier()

_EVENT_NAMES = {
    EVENT_JOB_ERROR: "job errors",
    EVENT_JOB_MISSED: "missed runs",
    EVENT_JOB_MAX_INSTANCES: "skipped runs (max instances)",
}
_DRUGS = ("sertraline", "diazepam", "escitalopram", "metformin", "lisinopril")


def deliver(key: str, recipient_id: str, patient_id: str, title: str, body: str) -> None:
    """The job function: one reminder's message, to the no-op notifier."""
    NOTIFIER.send(
        Message(
            idempotency_key=key,
            kind=REMINDER,
            recipient_id=recipient_id,
            patient_id=patient_id,
            title=title,
            body=body,
            data={},
        )
    )


@dataclass(kw_only=True)
class BaselineRun:
    """One measurement of the baseline."""

    jobs: int
    rate: float = 0.0  # steady: run dates per second; 0 for throughput
    setup_s: float = 0.0  # adding the jobs (not in wall_s)
    wall_s: float = 0.0  # throughput: resume to the last delivery
    cpu_s: float = 0.0  # the process (scheduler thread and pool), from the resume
    delivered: int = 0
    late_setup_s: float = 0.0  # steady: how long after the first run date setup ended
    lateness_ms: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.delivered / self.wall_s if self.wall_s else 0.0

    @property
    def adds_per_s(self) -> float:
        return self.jobs / self.setup_s if self.setup_s else 0.0


def _engine(url: str, *, loading: bool = False) -> Engine:
    """The product's engine settings without its ping of idle pooled connections; for
    `loading`, PostgreSQL commits without waiting for the WAL flush."""
    if make_url(normalise_url(url)).get_backend_name() == "sqlite":
        return make_engine(url)
    options = {"options": "-c synchronous_commit=off"} if loading else {}
    return create_engine(normalise_url(url), pool_size=10, max_overflow=10, connect_args=options)


def _scheduler(url: str, events: Counter[str], *, loading: bool = False) -> BackgroundScheduler:
    store = SQLAlchemyJobStore(engine=_engine(url, loading=loading), tablename=JOB_TABLE)
    scheduler = BackgroundScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(THREADS)},
        job_defaults={"coalesce": False, "misfire_grace_time": None, "max_instances": 1},
        timezone="UTC",
    )

    def listen(event: JobEvent) -> None:
        events[_EVENT_NAMES.get(event.code, str(event.code))] += 1

    scheduler.add_listener(listen, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
    return scheduler


def _add_jobs(scheduler: BackgroundScheduler, due: dict[str, float]) -> None:
    """One DateTrigger job per reminder, with what its message needs as arguments."""
    for i, (key, at) in enumerate(due.items()):
        scheduler.add_job(
            deliver,
            DateTrigger(run_date=dt.datetime.fromtimestamp(at, dt.UTC)),
            id=key,
            args=(
                key,
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                f"Time for your {_DRUGS[i % len(_DRUGS)]}",
                f"{5 * (1 + i % 4)} mg at 08:00.",
            ),
        )


def _keys(n: int) -> list[str]:
    return [f"{REMINDER}:{uuid.uuid4()}" for _ in range(n)]


def _jobs_left(url: str) -> int:
    engine = make_engine(url)
    try:
        table = Table(JOB_TABLE, MetaData(), autoload_with=engine)
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    finally:
        engine.dispose()


def _verify(run: BaselineRun, url: str, keys: list[str], events: Counter[str]) -> None:
    sent = Counter(k for k, _ in NOTIFIER.sends)
    dupes = sum(c - 1 for c in sent.values() if c > 1)
    lost = len(set(keys) - set(sent))
    if dupes:
        run.problems.append(f"baseline: {dupes} duplicate deliveries")
    if lost:
        run.problems.append(f"baseline: {lost:,} of {len(keys):,} reminders not delivered")
    run.problems.extend(f"baseline: {count} {name}" for name, count in events.items())
    left = _jobs_left(url)
    if left:
        run.problems.append(f"baseline: {left:,} jobs left in the job store")


def throughput(url: str, n: int) -> BaselineRun:
    """N reminders due now: add them paused, resume, time until the last delivery."""
    NOTIFIER.sends.clear()
    events: Counter[str] = Counter()
    run = BaselineRun(jobs=n)
    keys = _keys(n)
    scheduler = _scheduler(url, events)
    scheduler.start(paused=True)
    try:
        now = time.time()
        t0 = time.perf_counter()
        _add_jobs(scheduler, dict.fromkeys(keys, now))
        run.setup_s = time.perf_counter() - t0
        c0 = time.process_time()
        start = time.time()
        scheduler.resume()
        if not NOTIFIER.wait_for(n, timeout=max(300.0, n / 50)):
            run.problems.append(f"baseline: only {len(NOTIFIER.sends):,} of {n:,} delivered")
        run.cpu_s = time.process_time() - c0
        if NOTIFIER.sends:
            run.wall_s = max(t for _, t in NOTIFIER.sends) - start
    finally:
        scheduler.shutdown(wait=True)
    run.delivered = len(NOTIFIER.sends)
    _verify(run, url, keys, events)
    return run


def _load(url: str, *, rate: int, seconds: int) -> tuple[dict[str, float], BaselineRun]:
    """Adds the steady run's jobs through a paused loading scheduler, with run dates
    from a start far enough ahead for the adding to finish first: the adding rate is
    measured on 200 far-future jobs beforehand, and the adding is redone with more
    room (at most twice) if it ends less than half a second before the first date."""
    n = rate * seconds
    run = BaselineRun(jobs=n, rate=rate)
    loader = _scheduler(url, Counter(), loading=True)
    loader.start(paused=True)
    try:
        t0 = time.perf_counter()
        _add_jobs(loader, dict.fromkeys(_keys(200), time.time() + 86400))
        adds_per_s = 200 / (time.perf_counter() - t0)
        loader.remove_all_jobs()
        room = 1.5
        for _ in range(3):
            keys = _keys(n)
            first = time.time() + 3.0 + room * n / adds_per_s
            due = {key: first + i / rate for i, key in enumerate(keys)}
            t0 = time.perf_counter()
            _add_jobs(loader, due)
            run.setup_s = time.perf_counter() - t0
            run.late_setup_s = max(0.0, time.time() + 0.5 - first)
            if not run.late_setup_s:
                break
            loader.remove_all_jobs()
            adds_per_s = n / run.setup_s
            room *= 2
    finally:
        loader.shutdown(wait=False)
    return due, run


def steady(url: str, *, rate: int, seconds: int) -> BaselineRun:
    """`rate` reminders due per second for `seconds`; lateness of each delivery.

    The jobs are added beforehand (see `_load`; on PostgreSQL with commits that do
    not wait for the WAL flush, to keep the setup short), then a scheduler with the
    ordinary engine starts and delivers them as they come due."""
    NOTIFIER.sends.clear()
    events: Counter[str] = Counter()
    due, run = _load(url, rate=rate, seconds=seconds)
    n = run.jobs
    first = min(due.values())
    scheduler = _scheduler(url, events)
    c0 = time.process_time()
    scheduler.start()
    try:
        if not NOTIFIER.wait_for(
            n, timeout=max(0.0, first - time.time()) + seconds + max(120.0, n / 50)
        ):
            run.problems.append(f"baseline: only {len(NOTIFIER.sends):,} of {n:,} delivered")
        run.cpu_s = time.process_time() - c0
    finally:
        scheduler.shutdown(wait=True)
    if run.late_setup_s:
        run.problems.append(
            f"baseline: setup ended {run.late_setup_s:.1f} s after the first run date"
        )
    run.delivered = len(NOTIFIER.sends)
    run.lateness_ms = [(t - due[k]) * 1000 for k, t in NOTIFIER.sends if k in due]
    _verify(run, url, list(due), events)
    return run
