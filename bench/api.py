"""Benchmark: API throughput and latency under gunicorn, from a separate load generator.

Builds a fresh, migrated database with P patients (5,000; 1,000 with --quick), each with
a regimen of four prescriptions of 1-4 doses a day, in eight time zones, a care team
and a signed access token of their own (bulk-inserted, as `POST /v1/auth/token` would
have stored them); the product's `materialise_doses` then plans their doses with the
real clock, as the scheduler would have. Then, for each engine:

1. The API runs as in production: `python -m service.cli serve` (gunicorn, gthread,
   W workers x T threads) in a subprocess with MEDTRACK_ENV=production, a random
   secret key, the default log level and its access log (to a file), connecting on
   PostgreSQL as a runtime role with only the runtime privileges.
2. A load-generator process (pure Python, `selectors` over C keep-alive HTTP/1.1
   connections, closed loop: each connection sends its next request when the answer
   to the previous one is in, and is opened afresh every 50 answers) drives, for a
   fixed time after a warm-up:
   - `GET /v1/me/doses/today`, every request as a patient drawn in turn from all P,
     with their token;
   - `POST /v1/doses/{id}/taken` (body `{}`: taken now), every request a different
     planned dose of its patient, so each is a real write (row lock, update, outbox
     withdrawal, audit entry, commit).
3. The same generator against a trivial Flask app (`return {"ok": True}`) served by
   the same `service.server.run` with the same options, workers and threads: the
   ceiling that gunicorn, Flask and the generator leave on this machine.

It reports requests/s, p50/p99/max latency, CPU used meanwhile by the generator, the
gunicorn processes and PostgreSQL, and the machine's busy share; the ratio of today's
doses to the trivial endpoint; and, in process, the SQL statements one request of each
kind makes. Checked: every answer is 200 (today's doses also carry the patient's date),
and after the write run the database holds exactly as many doses taken, and audit
entries for them, as there were 200 answers.

Target: today's doses >= 1,500 requests/s with p99 <= 50 ms on PostgreSQL.

    .venv/bin/python -m bench.api [--quick] [--engine sqlite|postgresql|both]
                                   [--postgres-url URL] [--workers W] [--threads T]
                                   [--connections C] [--seconds S] [--profile]

It is a benchmark, not a test: the exit status is 0 whether or not a target is met,
and non-zero only when something goes wrong (including a failed verification).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import multiprocessing
import os
import random
import secrets
import selectors
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Table, event, func, select

from bench.common import (
    add_engine_arguments,
    backend_cpu_between,
    engines,
    fresh_database,
    machine_busy,
    machine_line,
    percentile,
    postgres_backend_cpu,
    print_profile,
    process_tree_cpu_seconds,
    runtime_url,
    vacuum,
    verdict,
)
from bench.receiver import free_port
from bench.seeding import SEED, ZONES, Seed, random_regimen
from service.config import Settings
from service.db.tables import (
    AuditEvent,
    DoseEvent,
)
from service.db.uow import Database
from service.domain.accounts import Role
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.knowledge import load
from service.usecases.context import utc_now
from service.usecases.planning import materialise_doses
from service.usecases.reminders import ReminderPolicy
from service.usecases.security import Tokens

TARGET_TODAY_PG_PER_S = 1_500.0
TARGET_TODAY_PG_P99_MS = 50.0
HOST = "127.0.0.1"
TODAY_PATH = "/v1/me/doses/today"
TRIVIAL_PATH = "/ok"
PRESCRIPTIONS_PER_PATIENT = 4
PATIENTS_PER_CLINICIAN = 250
# A dose may be logged taken up to 12 hours before its time; the doses handed to the
# write run are due at most this long after the setup's clock.
TAKEN_AHEAD = dt.timedelta(hours=11)
POLICY = ReminderPolicy()
# What every answer to a dose logged taken holds.
TAKEN_BODY = f'"{DoseStatus.TAKEN.value}"'.encode()

_EVENTS: Table = DoseEvent.__table__  # type: ignore[attr-defined]
_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sizes:
    patients: int
    seconds: float
    warmup: float


FULL = Sizes(patients=5_000, seconds=20.0, warmup=3.0)
QUICK = Sizes(patients=1_000, seconds=5.0, warmup=1.0)


@dataclass(frozen=True)
class Tuning:
    workers: int
    threads: int
    connections: int


# --- CPU accounting (Linux /proc; None elsewhere) -----------------------------------------


@dataclass(frozen=True)
class CpuSample:
    server: float | None
    postgres: dict[int, float] | None
    machine: tuple[float, float] | None

    @classmethod
    def take(cls, server_pid: int, db: Database) -> CpuSample:
        return cls(process_tree_cpu_seconds(server_pid), postgres_backend_cpu(db), machine_busy())


# --- setup -----------------------------------------------------------------------------


@dataclass(kw_only=True)
class Population:
    patients: int = 0
    prescriptions: int = 0
    planned: int = 0
    # (patient's token, dose id) of every dose the write run may log taken.
    takeable: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    seconds: float = 0.0


def populate(db: Database, kb: KnowledgeBase, n: int, tokens: Tokens) -> Population:
    """n patients with four prescriptions each, a clinician on every care team, and a
    token per patient; bulk core inserts. Then the product plans their doses."""
    t0 = time.perf_counter()
    now = utc_now()
    rng = random.Random(SEED)  # noqa: S311  (reproducible data, not security)
    drugs = sorted(kb.catalog.drugs.values(), key=lambda d: d.id)
    seed = Seed(at=now - dt.timedelta(days=10))
    pop = Population()
    token_of: dict[uuid.UUID, str] = {}
    for i in range(n):
        if i % PATIENTS_PER_CLINICIAN == 0:
            clinician = seed.user(Role.CLINICIAN)
        user_id, patient_id = seed.patient(ZONES[i % len(ZONES)], clinician=clinician)
        seed.care_team(patient_id, clinician)
        encoded, jti, expires = tokens.issue(
            user_id=user_id, role=Role.PATIENT, patient_id=patient_id, now=now
        )
        token_of[patient_id] = encoded
        seed.token(
            jti=jti, user_id=user_id, patient_id=patient_id, issued_at=now, expires_at=expires
        )
        for drug in rng.sample(drugs, PRESCRIPTIONS_PER_PATIENT):
            seed.prescription(
                patient_id,
                random_regimen(rng, drugs, drug=drug),
                clinician=clinician,
                start=(seed.at - dt.timedelta(days=20)).date(),
            )
    seed.write(db)
    pop.patients = seed.patients
    pop.prescriptions = seed.prescriptions
    pop.tokens = list(token_of.values())
    # As the scheduler would have: every dose of the horizon planned, with the real clock.
    pop.planned = materialise_doses(uow=db.uow(), clock=utc_now, kb=kb, policy=POLICY)
    with db.engine.connect() as conn:
        query = (
            select(_EVENTS.c.id, _EVENTS.c.patient_id)
            .where(
                _EVENTS.c.status == DoseStatus.PENDING, _EVENTS.c.scheduled_at <= now + TAKEN_AHEAD
            )
            .order_by(_EVENTS.c.id)
        )
        pop.takeable = [(token_of[r[1]], r[0]) for r in conn.execute(query)]
    rng.shuffle(pop.takeable)
    pop.seconds = time.perf_counter() - t0
    return pop


# --- HTTP requests ------------------------------------------------------------------------


def get_request(path: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{auth}Accept: application/json\r\n\r\n".encode()


def post_request(path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def taken_request(token: str, dose_id: uuid.UUID) -> bytes:
    return post_request(f"/v1/doses/{dose_id}/taken", token, b"{}")


# --- the load generator (runs in its own process) -----------------------------------------


@dataclass
class _Conn:
    requests: list[bytes]
    cycle: bool
    sock: socket.socket | None = None
    index: int = 0
    answered: int = 0
    sent_at: float = 0.0
    buffer: bytearray = field(default_factory=bytearray)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _parse(buffer: bytearray) -> tuple[int, int, bytes, bool] | None:
    """(status, bytes used, body, close) of a complete response at the buffer's start."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = 0
    close = False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
        elif name == "transfer-encoding":
            raise RuntimeError("chunked responses are not expected here")
    total = end + 4 + length
    if len(buffer) < total:
        return None
    return status, total, bytes(buffer[end + 4 : total]), close


# A connection is closed and opened again after this many answers, as clients come and
# go. gunicorn binds a connection to the worker that accepted it, and which worker
# accepts is a race: with long-lived connections one worker can hold most of them
# while another idles for the whole run.
REQUESTS_PER_CONNECTION = 50


def generate(
    port: int,
    plan: list[tuple[list[bytes], bool]],
    start_at: float,
    warmup: float,
    seconds: float,
    check: bytes | None,
) -> dict[str, Any]:
    """Closed-loop load over one keep-alive connection per plan entry (its requests,
    and whether to cycle through them or stop when they run out). Latency runs from
    the request's first byte (or from the connect, when the connection is new) to the
    answer's last. Returns plain values."""
    conns = [_Conn(requests=reqs, cycle=cycle) for reqs, cycle in plan if reqs]
    sel = selectors.DefaultSelector()
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    begin = time.perf_counter()
    window_start = begin + warmup
    window_end = window_start + seconds
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    bad_bodies = 0
    reconnects = 0
    exhausted = 0
    c0 = time.process_time()
    cpu_at_window: float | None = None
    cpu_at_end: float | None = None

    def send(c: _Conn, *, fresh: bool = False) -> None:
        """Send the connection's current request, on a new connection if `fresh`."""
        c.sent_at = time.perf_counter()
        if fresh:
            if c.sock is not None:
                sel.unregister(c.sock)
                c.sock.close()
            c.sock = _connect(port)
            sel.register(c.sock, selectors.EVENT_READ, c)
            c.buffer.clear()
        assert c.sock is not None
        c.sock.sendall(c.requests[c.index])

    def stop(c: _Conn) -> None:
        assert c.sock is not None
        sel.unregister(c.sock)
        c.sock.close()
        c.sock = None

    active = 0
    for c in conns:
        send(c, fresh=True)
        active += 1
    while active:
        now = time.perf_counter()
        if cpu_at_window is None and now >= window_start:
            cpu_at_window = time.process_time()
        if cpu_at_end is None and now >= window_end:
            cpu_at_end = time.process_time()
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            assert c.sock is not None
            data = c.sock.recv(262144)
            if not data:  # the server closed the connection before answering: resend
                reconnects += 1
                send(c, fresh=True)
                continue
            c.buffer += data
            parsed = _parse(c.buffer)
            if parsed is None:
                continue
            status, used, body, close = parsed
            del c.buffer[:used]
            done = time.perf_counter()
            statuses[status] += 1
            if check is not None and status == 200 and check not in body:
                bad_bodies += 1
            if window_start <= c.sent_at and done <= window_end:
                latencies.append((done - c.sent_at) * 1000.0)
            c.index += 1
            c.answered += 1
            if c.index >= len(c.requests):
                if not c.cycle:
                    exhausted += 1
                    active -= 1
                    stop(c)
                    continue
                c.index = 0
            if done >= window_end:
                active -= 1
                stop(c)
                continue
            fresh = close or c.answered % REQUESTS_PER_CONNECTION == 0
            reconnects += fresh
            send(c, fresh=fresh)
    finished = time.perf_counter()
    for c in conns:
        if c.sock is not None:
            c.sock.close()
    end_cpu = cpu_at_end if cpu_at_end is not None else time.process_time()
    return {
        "latencies": latencies,
        "statuses": dict(statuses),
        "bad_bodies": bad_bodies,
        "reconnects": reconnects,
        "exhausted": exhausted,
        "window_s": max(0.0, min(finished, window_end) - window_start),
        "per_connection": [c.answered for c in conns],
        "cpu_s": end_cpu - (cpu_at_window if cpu_at_window is not None else c0),
        "sent": sum(statuses.values()),
    }


def _generator_process(args: tuple[Any, ...], out: multiprocessing.Queue[Any]) -> None:
    try:
        out.put(generate(*args))
    except Exception as exc:
        out.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


# --- servers -------------------------------------------------------------------------------


def trivial_app() -> Any:
    from flask import Flask

    app = Flask("trivial")

    @app.get(TRIVIAL_PATH)
    def ok() -> dict[str, bool]:
        return {"ok": True}

    return app


def serve_trivial(port: int, workers: int, threads: int) -> None:
    """The trivial app under the product's own gunicorn setup (`service.server.run`,
    the same options), in place of the medtrack app. Runs in the server subprocess."""
    import service
    from service import server

    service.create_app = lambda settings=None: trivial_app()
    server.run(Settings.from_env(), host=HOST, port=port, workers=workers, threads=threads)


@contextlib.contextmanager
def served(
    kind: str, url: str, secret: str, tuning: Tuning, log_dir: Path
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """gunicorn in a subprocess: `medtrack serve` (kind 'medtrack') or the trivial app;
    yields its port and process once it answers, and stops it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "MEDTRACK_ENV": "production",
        "MEDTRACK_SECRET_KEY": secret,
        "MEDTRACK_DATABASE_URL": url,
    }
    env.pop("MEDTRACK_LOG_LEVEL", None)
    if kind == "medtrack":
        cmd = [sys.executable, "-m", "service.cli", "serve", "--host", HOST, "--port", str(port)]
        cmd += ["--workers", str(tuning.workers), "--threads", str(tuning.threads)]
        probe = "/healthz"
    else:
        code = (
            f"from bench.api import serve_trivial; "
            f"serve_trivial({port}, {tuning.workers}, {tuning.threads})"
        )
        cmd = [sys.executable, "-c", code]
        probe = TRIVIAL_PATH
    log: IO[bytes] = (log_dir / f"{kind}-{port}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}{probe}", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.time() > deadline:
                raise RuntimeError(f"{kind} server did not answer within 60 s")
            time.sleep(0.2)
        yield port, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- one timed run ---------------------------------------------------------------------------


@dataclass(kw_only=True)
class Run:
    engine: str
    endpoint: str
    tuning: Tuning
    requests: int = 0
    window_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    generator_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    postgres_cpu_s: float | None = None
    machine_busy: float | None = None
    sent: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.requests / self.window_s if self.window_s else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else float("nan")


def drive(
    engine: str,
    endpoint: str,
    port: int,
    server: subprocess.Popen[bytes],
    db: Database,
    plan: list[tuple[list[bytes], bool]],
    sizes: Sizes,
    tuning: Tuning,
    check: bytes | None,
) -> Run:
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[Any] = ctx.Queue()
    start_at = time.time() + 2.0  # time for the generator to start and connect
    args = (port, plan, start_at, sizes.warmup, sizes.seconds, check)
    proc = ctx.Process(target=_generator_process, args=(args, out))
    proc.start()
    try:
        time.sleep(max(0.0, start_at + sizes.warmup - time.time()))
        before = CpuSample.take(server.pid, db)
        time.sleep(sizes.seconds)
        after = CpuSample.take(server.pid, db)
        result = out.get(timeout=120)
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.terminate()
    if "error" in result:
        raise RuntimeError(f"the load generator failed: {result['error']}")
    run = Run(engine=engine, endpoint=endpoint, tuning=tuning)
    run.latencies = result["latencies"]
    run.requests = len(run.latencies)
    run.window_s = result["window_s"]
    run.statuses = result["statuses"]
    run.sent = result["sent"]
    run.generator_cpu_s = result["cpu_s"]
    if before.server is not None and after.server is not None:
        run.server_cpu_s = after.server - before.server
    run.postgres_cpu_s = backend_cpu_between(before.postgres, after.postgres)
    if before.machine and after.machine:
        busy = after.machine[0] - before.machine[0]
        total = after.machine[1] - before.machine[1]
        run.machine_busy = busy / total if total else None
    others = {s: n for s, n in run.statuses.items() if s != 200}
    if others:
        run.problems.append(f"non-200 answers: {others}")
    if result["bad_bodies"]:
        run.problems.append(f"{result['bad_bodies']} answers without the expected body")
    if result["exhausted"]:
        run.problems.append(
            f"{result['exhausted']} connections ran out of doses to log "
            f"(requests per connection: {result['per_connection']})"
        )
    return run


def plan_today(pop: Population, connections: int) -> list[tuple[list[bytes], bool]]:
    """Each connection cycles through its share of the patients (all P in turn)."""
    requests = [get_request(TODAY_PATH, t) for t in pop.tokens]
    return [(requests[i::connections], True) for i in range(connections)]


def plan_taken(pop: Population, connections: int) -> list[tuple[list[bytes], bool]]:
    """Each connection logs its own share of the takeable doses, each once."""
    requests = [taken_request(t, d) for t, d in pop.takeable]
    return [(requests[i::connections], False) for i in range(connections)]


def verify_taken(db: Database, answered: int) -> list[str]:
    with db.engine.connect() as conn:
        taken = conn.execute(
            select(func.count()).select_from(_EVENTS).where(_EVENTS.c.status == DoseStatus.TAKEN)
        ).scalar_one()
        audited = conn.execute(
            select(func.count()).select_from(_AUDIT).where(_AUDIT.c.subtype == "dose.taken")
        ).scalar_one()
    problems = []
    if taken != answered:
        problems.append(f"{taken:,} doses taken in the database, {answered:,} answers 200")
    if audited != answered:
        problems.append(f"{audited:,} audit entries 'dose.taken', {answered:,} answers 200")
    return problems


# --- in process: statements per request, and the profile ----------------------------------


@contextlib.contextmanager
def counting_statements(db: Database) -> Iterator[list[int]]:
    count = [0]

    def before(*_args: Any, **_kwargs: Any) -> None:
        count[0] += 1

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def in_process(
    url: str,
    secret: str,
    pop: Population,
    doses: list[tuple[str, uuid.UUID]],
    *,
    requests: int,
    profile: cProfile.Profile | None = None,
) -> dict[str, float]:
    """The production app in this process (Flask's test client, no gunicorn): SQL
    statements per request of each kind, optionally under a profiler."""
    from service import create_app

    settings = Settings(env="production", database_url=url, secret_key=secret)
    app = create_app(settings)
    db: Database = app.extensions["medtrack"].db
    client = app.test_client()
    out: dict[str, float] = {}
    try:
        client.get("/healthz")
        with counting_statements(db) as count:
            if profile:
                profile.enable()
            for i in range(requests):
                token = pop.tokens[i % len(pop.tokens)]
                r = client.get(TODAY_PATH, headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.get_data(as_text=True)
            if profile:
                profile.disable()
            out["today"] = count[0] / requests
            count[0] = 0
            if profile:
                profile.enable()
            for token, dose_id in doses[:requests]:
                r = client.post(
                    f"/v1/doses/{dose_id}/taken",
                    data=b"{}",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": "application/json",
                    },
                )
                assert r.status_code == 200, r.get_data(as_text=True)
            if profile:
                profile.disable()
            out["taken"] = count[0] / max(1, min(requests, len(doses)))
    finally:
        db.dispose()
    return out


# --- per engine ------------------------------------------------------------------------------


@dataclass(kw_only=True)
class EngineResult:
    engine: str
    population: Population
    runs: list[Run] = field(default_factory=list)
    statements: dict[str, float] = field(default_factory=dict)


def run_engine(
    engine: str,
    url: str,
    app_url: str,
    kb: KnowledgeBase,
    sizes: Sizes,
    tuning: Tuning,
    log_dir: Path,
    *,
    profile: bool,
) -> EngineResult:
    secret = secrets.token_urlsafe(48)
    db = Database(url)
    try:
        print(f"[{engine}] setting up {sizes.patients:,} patients ...", flush=True)
        pop = populate(db, kb, sizes.patients, Tokens(secret_key=secret, ttl_seconds=86400))
        print(
            f"[{engine}] setup: {pop.patients:,} patients, {pop.prescriptions:,} prescriptions, "
            f"{pop.planned:,} doses planned, {len(pop.takeable):,} of them can be logged "
            f"taken now, in {pop.seconds:.1f} s (not timed)",
            flush=True,
        )
        # A share of the doses for the in-process count; the write run gets the rest.
        counted = pop.takeable[:50]
        pop.takeable = pop.takeable[50:]
        result = EngineResult(engine=engine, population=pop)
        result.statements = in_process(app_url, secret, pop, counted, requests=50)

        print(f"[{engine}] trivial Flask app ...", flush=True)
        with served("trivial", app_url, secret, tuning, log_dir) as (port, proc):
            plan = [([get_request(TRIVIAL_PATH)], True) for _ in range(tuning.connections)]
            result.runs.append(
                drive(engine, "trivial", port, proc, db, plan, sizes, tuning, b'"ok":true')
            )

        vacuum(db)
        with served("medtrack", app_url, secret, tuning, log_dir) as (port, proc):
            print(f"[{engine}] GET {TODAY_PATH} ...", flush=True)
            plan = plan_today(pop, tuning.connections)
            run = drive(engine, "today", port, proc, db, plan, sizes, tuning, b'"date"')
            result.runs.append(run)
            vacuum(db)
            print(f"[{engine}] POST /v1/doses/{{id}}/taken ...", flush=True)
            with db.engine.connect() as conn:
                already = conn.execute(
                    select(func.count())
                    .select_from(_EVENTS)
                    .where(_EVENTS.c.status == DoseStatus.TAKEN)
                ).scalar_one()
            plan = plan_taken(pop, tuning.connections)
            run = drive(engine, "taken", port, proc, db, plan, sizes, tuning, TAKEN_BODY)
            run.problems.extend(verify_taken(db, run.statuses.get(200, 0) + already))
            result.runs.append(run)

        if profile:
            print(f"[{engine}] profiling in process ...", flush=True)
            prof = cProfile.Profile()
            with db.engine.connect() as conn:
                pending = {
                    r[0]
                    for r in conn.execute(
                        select(_EVENTS.c.id).where(_EVENTS.c.status == DoseStatus.PENDING)
                    )
                }
            rest = [(t, d) for t, d in pop.takeable if d in pending]
            n = min(1000, len(rest))
            in_process(app_url, secret, pop, rest, requests=n, profile=prof)
            print_profile(
                f"{engine}: {n:,} GET {TODAY_PATH} then {n:,} POST taken, in process "
                "(Flask test client, no gunicorn)",
                prof,
            )
    finally:
        db.dispose()
    return result


# --- report ------------------------------------------------------------------------------------


def _cpu(value: float | None, window: float) -> str:
    return f"{value / window:.2f}" if value is not None and window else "-"


def _per_request(value: float | None, requests: int) -> str:
    return f"{value * 1000 / requests:.2f}" if value is not None and requests else "-"


def report(results: list[EngineResult], sizes: Sizes, tuning: Tuning, quick: bool) -> None:
    print()
    print(
        f"API benchmark: gunicorn gthread {tuning.workers} workers x {tuning.threads} threads, "
        f"{tuning.connections} keep-alive connections (closed loop), {sizes.seconds:.0f} s "
        f"after {sizes.warmup:.0f} s warm-up, {sizes.patients:,} patients"
        f"{'  [quick]' if quick else ''}"
    )
    head = (
        f"{'engine':<11} {'endpoint':<14} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'app':>5} {'pg':>5} {'gen':>5} {'gunic':>5} {'pg':>5} {'busy':>5} "
        f"{'target':>18} {'result':>6}  checks"
    )
    print(head)
    print("-" * len(head))
    labels = {"trivial": "trivial Flask", "today": "GET today", "taken": "POST taken"}
    for res in results:
        for r in res.runs:
            target, result = "-", "-"
            if res.engine == "postgresql" and r.endpoint == "today":
                target = f">={TARGET_TODAY_PG_PER_S:,.0f}/s p99<={TARGET_TODAY_PG_P99_MS:.0f}"
                result = verdict(
                    r.per_s >= TARGET_TODAY_PG_PER_S and r.p(99) <= TARGET_TODAY_PG_P99_MS
                )
            busy = f"{r.machine_busy:.0%}" if r.machine_busy is not None else "-"
            checks = "ok" if not r.problems else "; ".join(r.problems)
            print(
                f"{res.engine:<11} {labels[r.endpoint]:<14} {r.per_s:>7,.0f} {r.p(50):>7.1f} "
                f"{r.p(99):>7.1f} {max(r.latencies, default=0.0):>7.1f} "
                f"{_per_request(r.server_cpu_s, r.requests):>5} "
                f"{_per_request(r.postgres_cpu_s, r.requests):>5} "
                f"{_cpu(r.generator_cpu_s, r.window_s):>5} {_cpu(r.server_cpu_s, r.window_s):>5} "
                f"{_cpu(r.postgres_cpu_s, r.window_s):>5} {busy:>5} {target:>18} {result:>6}"
                f"  {checks}"
            )
    print()
    print("Ratios (same run, same generator and gunicorn settings):")
    by = {(res.engine, r.endpoint): r for res in results for r in res.runs}
    for res in results:
        trivial = by.get((res.engine, "trivial"))
        today = by.get((res.engine, "today"))
        taken = by.get((res.engine, "taken"))
        if trivial and today and taken and trivial.per_s:
            print(
                f"  {res.engine:<11} today / trivial {today.per_s / trivial.per_s:.2f}, "
                f"taken / trivial {taken.per_s / trivial.per_s:.2f}; SQL statements per "
                f"request: today {res.statements.get('today', 0):.1f}, taken "
                f"{res.statements.get('taken', 0):.1f}"
            )
    for endpoint in ("today", "taken"):
        lite, pg = by.get(("sqlite", endpoint)), by.get(("postgresql", endpoint))
        if lite and pg and lite.per_s:
            print(
                f"  {labels[endpoint]}: PostgreSQL / SQLite requests/s {pg.per_s / lite.per_s:.2f}"
            )
    print()
    print(
        f"Target: GET {TODAY_PATH} on PostgreSQL >= {TARGET_TODAY_PG_PER_S:,.0f} requests/s "
        f"with p99 <= {TARGET_TODAY_PG_P99_MS:.0f} ms; the other rows have no target. "
        "Latency: from sending a request to its whole answer, for requests sent and "
        "answered within the timed window. 'app', 'pg': CPU milliseconds per request "
        "in the gunicorn processes and in PostgreSQL (what decides throughput when the "
        "CPUs are busy, and steadier than requests/s on a shared machine). 'gen', "
        "'gunic', 'pg': cores used on average during the "
        "window by the load generator, the gunicorn processes (master and workers) and "
        "the PostgreSQL backends serving the benchmark's database (pg); 'busy' = the "
        "machine's non-idle share of all its CPUs, whoever uses them. "
        "'checks': every answer 200 with the expected body; after the write run, doses "
        "taken and their audit entries in the database = 200 answers. SQL statements per "
        "request: counted in process, not counting BEGIN, COMMIT or ROLLBACK and the "
        "pool's liveness ping."
    )
    for res in results:
        p = res.population
        print(
            f"  {res.engine}: setup {p.seconds:.1f} s (not timed): {p.patients:,} patients "
            f"({PRESCRIPTIONS_PER_PATIENT} prescriptions each, {len(ZONES)} zones, "
            f"a token each), {p.planned:,} doses planned"
        )
    print(machine_line())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 patients, 5 s per endpoint instead of 20 s"
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--workers",
        type=int,
        default=Settings().workers,
        help="gunicorn workers (default %(default)s, the product's: one per core)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=Settings().threads,
        help="threads per worker (default %(default)s, the product's)",
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="keep-alive connections (default 16)"
    )
    parser.add_argument("--seconds", type=float, help="timed seconds per endpoint")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the timed runs, cProfile 1,000 requests of each kind in process",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.seconds:
        sizes = Sizes(patients=sizes.patients, seconds=args.seconds, warmup=sizes.warmup)
    tuning = Tuning(workers=args.workers, threads=args.threads, connections=args.connections)

    kb = load()
    results = []
    with tempfile.TemporaryDirectory(prefix="medtrack-bench-") as tmp_dir:
        for engine in engines(args):
            with (
                fresh_database(engine, args.postgres_url, Path(tmp_dir)) as url,
                runtime_url(url) as app_url,
            ):
                results.append(
                    run_engine(
                        engine, url, app_url, kb, sizes, tuning, Path(tmp_dir), profile=args.profile
                    )
                )
    report(results, sizes, tuning, args.quick)
    if any(r.problems for res in results for r in res.runs):
        print("VERIFICATION FAILED: see 'checks' above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
