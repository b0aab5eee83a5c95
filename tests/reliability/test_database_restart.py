"""PostgreSQL restarted under write load, behind a real gunicorn.

The test creates a private PostgreSQL cluster (initdb into a temporary directory, its
own port and socket directory; never the shared server), migrates it with `medtrack db
upgrade`, creates a clinician with `medtrack users create`, and serves the API with
`medtrack serve` (gunicorn, two workers). Client threads then register patients and
prescribe for them in a loop while the cluster is stopped twice (`pg_ctl stop -m
fast`, then `-m immediate`, a crash) and started again a few seconds later.

Asserted: while the database is down the API answers 503 with Retry-After (never 500,
never slower than a bound); after each start it answers 2xx again within a bound,
with nobody touching it; and every write acknowledged with 2xx is in the database
afterwards (lost writes = 0). fsync is off in the private cluster: a stopped or
crashed server process still leaves every committed WAL record in the kernel's
cache, which is what a restart reads back.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from bench.receiver import free_port
from tests.conftest import prescription_body
from tests.reliability.harness import (
    Figures,
    Processes,
    medtrack_env,
    postgres_url,
    wait_until,
)

PASSWORD = "reliability clinician password"
WRITERS = 4
OUTAGE_SECONDS = 3.0
# Bounds: the slowest answer any request may take, and how soon after the database is
# back the API must acknowledge writes again.
ANSWER_BOUND_SECONDS = 10.0
RECOVERY_BOUND_SECONDS = 20.0


def _pg_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.insert(0, Path(found))
    return candidates[0].parent if candidates else None


def _skip_reason() -> str | None:
    if postgres_url() is None:
        return (
            "runs with the PostgreSQL suite (MEDTRACK_TEST_DATABASE_URL=postgresql://...); "
            "it starts a private cluster of its own"
        )
    if _pg_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root needs runuser to start PostgreSQL as another user"
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root needs a `postgres` OS user to own the private cluster"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


class Cluster:
    """A private PostgreSQL cluster in a temporary directory, on a free port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="medtrack-reliability-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres", group="postgres")

    def url(self, database: str = "medtrack", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, timeout: float = 90) -> None:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(  # noqa: S603 (PostgreSQL's own tools)
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{tool} {args}: {done.stdout}\n{done.stderr}\n{self.log()}"

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions", timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=80 -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = _pg_bin()
    assert bindir is not None
    c = Cluster(bindir)
    try:
        c.init()
        c.start()
        with psycopg.connect(c.url("postgres"), autocommit=True) as conn:
            # Deployed as the README says: an owner migrates, a runtime role serves.
            conn.execute("CREATE ROLE medtrack_owner LOGIN")
            conn.execute("CREATE ROLE medtrack_app LOGIN")
            conn.execute("CREATE DATABASE medtrack OWNER medtrack_owner")
        yield c
    finally:
        c.destroy()


@dataclass(frozen=True)
class Call:
    """One write as its client saw it."""

    what: str  # "patient" (enrolled) | "activation" | "prescription"
    ident: str  # the patient's email, or the prescription's unique instructions
    status: int  # 0: no HTTP answer at all
    retry_after: str | None
    started: float
    ended: float
    error: str = ""
    answer: dict[str, Any] | None = None  # the body of an acknowledged write


# Acknowledged: an enrolment (202), an activation (200), a prescription (201).
ACKNOWLEDGED = (200, 201, 202)


class Writers:
    """Client threads registering a patient and prescribing for them, in a loop."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(WRITERS)
        ]

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=ANSWER_BOUND_SECONDS + 10)

    def _post(self, session: requests.Session, what: str, ident: str, path: str, body: Any) -> Call:
        started = time.monotonic()
        try:
            r = session.post(
                self.base + path,
                json=body,
                headers=self.headers,
                timeout=(5, ANSWER_BOUND_SECONDS + 5),
            )
        except requests.RequestException as exc:
            call = Call(what, ident, 0, None, started, time.monotonic(), type(exc).__name__)
        else:
            call = Call(
                what,
                ident,
                r.status_code,
                r.headers.get("Retry-After"),
                started,
                time.monotonic(),
                "" if r.status_code in (*ACKNOWLEDGED, 503) else r.text[:300],
                r.json() if r.status_code in ACKNOWLEDGED else None,
            )
        with self.lock:
            self.calls.append(call)
        return call

    def _loop(self, n: int) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                tag = f"w{n}-{uuid.uuid4().hex[:12]}"
                email = f"reliability-{tag}@example.org"
                body = {
                    "name": f"Patient {tag}",
                    "email": email,
                    "timezone": "Europe/London",
                    "date_of_birth": "1970-01-01",
                }
                enrolled = self._post(session, "patient", email, "/v1/patients", body)
                if enrolled.answer is None:
                    time.sleep(0.05)
                    continue
                # The clinician joins the care team when the patient activates.
                activation = {
                    "activation_code": enrolled.answer["activation_code"],
                    "password": PASSWORD,
                }
                activated = self._post(
                    session, "activation", email, "/v1/auth/activate", activation
                )
                if activated.answer is None:
                    time.sleep(0.05)
                    continue
                instructions = f"reliability write {tag}"
                self._post(
                    session,
                    "prescription",
                    instructions,
                    f"/v1/patients/{activated.answer['patient_id']}/prescriptions",
                    prescription_body(instructions=instructions),
                )

    def snapshot(self) -> list[Call]:
        with self.lock:
            return list(self.calls)

    def acknowledged_since(self, moment: float) -> int:
        return sum(1 for c in self.snapshot() if c.status in ACKNOWLEDGED and c.started >= moment)

    def acknowledges_after(self, moment: float) -> Callable[[], bool]:
        """A predicate: a write sent after `moment` has been acknowledged."""
        return lambda: self.acknowledged_since(moment) >= 1


def _medtrack(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "service.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"medtrack {args[0]}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _stored(url: str) -> dict[str, set[str]]:
    """What each kind of write left in the database: enrolled patients' and activated
    patients' emails, and prescription instructions."""
    with psycopg.connect(url) as conn:
        emails = {
            r[0]
            for r in conn.execute(
                "SELECT u.email FROM users u JOIN patients p ON p.user_id = u.id "
                "WHERE u.email LIKE 'reliability-%'"
            )
        }
        activated = {
            r[0]
            for r in conn.execute(
                "SELECT u.email FROM users u JOIN patients p ON p.user_id = u.id "
                "WHERE u.email LIKE 'reliability-%' AND p.activated_at IS NOT NULL"
            )
        }
        instructions = {
            r[0]
            for r in conn.execute(
                "SELECT instructions FROM prescription_versions "
                "WHERE instructions LIKE 'reliability write %'"
            )
        }
    return {"patient": emails, "activation": activated, "prescription": instructions}


def test_postgresql_restarted_under_load_answers_503_recovers_and_loses_no_write(
    cluster: Cluster, processes: Processes
) -> None:
    env = medtrack_env(
        MEDTRACK_ENV="production",
        MEDTRACK_MIGRATION_DATABASE_URL=cluster.url(user="medtrack_owner"),
        MEDTRACK_DATABASE_URL=cluster.url(user="medtrack_app"),
        MEDTRACK_SECRET_KEY=secrets.token_urlsafe(48),
        MEDTRACK_ARGON2_TIME_COST="1",
        MEDTRACK_ARGON2_MEMORY_KIB="1024",
        MEDTRACK_LOG_LEVEL="WARNING",
    )
    _medtrack(["db", "upgrade"], env)
    email = "reliability-clinician@example.org"
    _medtrack(
        ["users", "create", "--role", "clinician", "--email", email, "--name", "Dr Reliability",
         "--password", PASSWORD],
        env,
    )  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = processes.start(
        "gunicorn",
        [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--threads", "4"],
        env,
    )  # fmt: skip

    def healthy() -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(base + "/healthz", timeout=2).status_code == 200
        return False

    wait_until(healthy, timeout=60, what="gunicorn serving", detail=server.tail)
    r = requests.post(
        base + "/v1/auth/token", json={"email": email, "password": PASSWORD}, timeout=10
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]

    figures = Figures("PostgreSQL restarted under load (gunicorn)")
    outages: list[tuple[str, float, float]] = []  # (mode, fully down from, to)
    stops: list[tuple[float, float]] = []  # (stop began, stop returned)
    recoveries: list[float] = []
    start = time.monotonic()
    try:
        with Writers(base, token) as writers:
            wait_until(
                lambda: writers.acknowledged_since(start) >= 10,
                timeout=30,
                what="writes acknowledged before the restart",
                detail=server.tail,
            )
            for mode in ("fast", "immediate"):
                stopping = time.monotonic()
                cluster.stop(mode)
                down = time.monotonic()
                stops.append((stopping, down))
                time.sleep(OUTAGE_SECONDS)
                up_from = time.monotonic()
                cluster.start()
                up = time.monotonic()
                outages.append((mode, down, up_from))
                recoveries.append(
                    wait_until(
                        writers.acknowledges_after(up),
                        timeout=RECOVERY_BOUND_SECONDS,
                        what=f"a write acknowledged after the {mode} restart",
                        detail=server.tail,
                    )
                )
                time.sleep(1.0)
        calls = writers.snapshot()
    finally:
        processes.close()

    stored = _stored(cluster.url())
    acknowledged = [c for c in calls if c.status in ACKNOWLEDGED]
    lost = [c for c in acknowledged if c.ident not in stored[c.what]]
    refused = [c for c in calls if c.status == 503]
    in_outage = [
        c for c in calls for _, down, up_from in outages if down <= c.started and c.ended <= up_from
    ]
    stored_though_refused = [c for c in refused if c.ident in stored[c.what]]
    cut_off = [c for c in calls for began, done in stops if c.started <= done and c.ended >= began]
    statuses = Counter(c.status for c in calls)
    figures.update(
        {
            "requests": len(calls),
            "statuses": dict(sorted(statuses.items())),
            "acknowledged_writes": len(acknowledged),
            "lost_writes": len(lost),
            "answered_503": len(refused),
            "503_without_retry_after": sum(1 for c in refused if not c.retry_after),
            "in_flight_during_stop": dict(sorted(Counter(c.status for c in cut_off).items())),
            "requests_while_down": len(in_outage),
            "while_down_not_503": sum(1 for c in in_outage if c.status != 503),
            "answered_500": statuses.get(500, 0),
            "no_answer": statuses.get(0, 0),
            "slowest_answer_s": max(c.ended - c.started for c in calls),
            "recovery_s": ", ".join(
                f"{m} {s:.2f}" for (m, *_), s in zip(outages, recoveries, strict=True)
            ),
            "503_but_stored": len(stored_though_refused),
        }
    )
    figures.show()
    other = [c for c in calls if c.status not in (*ACKNOWLEDGED, 503)]
    assert not other, f"only an acknowledgement or 503 may come back: {other[:5]}. {figures}"
    assert figures["lost_writes"] == 0, f"{lost[:5]}. {figures}"
    assert figures["503_without_retry_after"] == 0, figures
    assert figures["requests_while_down"] > 0, f"no request met the outage. {figures}"
    assert figures["while_down_not_503"] == 0, figures
    assert figures["slowest_answer_s"] < ANSWER_BOUND_SECONDS, figures
    assert all(s < RECOVERY_BOUND_SECONDS for s in recoveries), figures
