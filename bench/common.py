"""What the benchmarks share: engine arguments, a fresh migrated database on each engine
and the runtime role to serve it with, VACUUM, timing of product methods, profiles,
percentiles, CPU accounting and the machine line every report ends with."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import os
import pstats
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from service.db.migrate import upgrade
from service.db.roles import grant_runtime
from service.db.uow import Database

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine", choices=("sqlite", "postgresql", "both"), default="both", help="default both"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="server to create the throwaway database on (default %(default)s)",
    )


def engines(args: argparse.Namespace) -> tuple[str, ...]:
    """The engines `--engine` names."""
    return ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)


@contextlib.contextmanager
def fresh_database(engine: str, postgres_url: str, directory: Path) -> Iterator[str]:
    """The URL of a new database, migrated: a SQLite file in `directory`, or a
    throwaway PostgreSQL database on the server at `postgres_url`."""
    with contextlib.ExitStack() as stack:
        if engine == "sqlite":
            url = f"sqlite:///{directory / 'bench.sqlite'}"
        else:
            url = stack.enter_context(postgres_database(postgres_url))
        print(f"[{engine}] migrating ...", flush=True)
        upgrade(url)
        yield url


@contextlib.contextmanager
def runtime_url(url: str) -> Iterator[str]:
    """The URL to serve the migrated database at `url` with, as in production: on
    PostgreSQL, as a throwaway login role holding only the runtime privileges
    (service/db/roles.py; production refuses a superuser or the tables' owner), dropped
    afterwards; on SQLite, `url` itself."""
    if make_url(url).get_backend_name() != "postgresql":
        yield url
        return
    role = f"medtrack_bench_app_{uuid.uuid4().hex[:12]}"
    owner = Database(url)
    try:
        with owner.engine.begin() as conn:
            conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        grant_runtime(owner.engine, role)
        yield make_url(url).set(username=role, password=None).render_as_string(False)
    finally:
        with owner.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        owner.dispose()


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A throwaway database on the server, dropped afterwards."""
    import psycopg

    parsed = make_url(server_url)
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"medtrack_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')


@contextlib.contextmanager
def timed_methods(
    methods: Sequence[tuple[type[Any], str, str]], totals: dict[str, float]
) -> Iterator[None]:
    """While inside, the time spent in each (class, method name, label) of `methods` is
    added up in `totals` under its label. For methods called a few times per batch:
    the wrapping costs nothing measurable."""
    originals = [(cls, name, getattr(cls, name)) for cls, name, _ in methods]

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
        for (cls, name, label), (_, _, original) in zip(methods, originals, strict=True):
            setattr(cls, name, wrap(original, label))
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


def vacuum(db: Database, *tables: str, checkpoint: bool = False) -> None:
    """PostgreSQL: what autovacuum would do (it is off on the bench server): clear the
    dead rows of the setup or a previous run and refresh the statistics, of `tables`
    (every table by default). With `checkpoint`, then a CHECKPOINT, so a timed run does
    not pay for writing out the pages dirtied before it (skipped without the
    privilege). Not timed; nothing to do on SQLite."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        for statement in [f"VACUUM ANALYZE {t}" for t in tables] or ["VACUUM ANALYZE"]:
            auto.exec_driver_sql(statement)
        if checkpoint:
            with contextlib.suppress(DBAPIError):
                auto.exec_driver_sql("CHECKPOINT")


def warm(db: Database) -> None:
    """Open a pooled connection before timing."""
    with db.uow() as uow:
        uow.ping()


def print_profile(title: str, prof: cProfile.Profile) -> None:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)
    print(f"\n==== profile: {title} ====\n{buf.getvalue()}", flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machine_line() -> str:
    load1, load5, _ = os.getloadavg()
    return f"Machine: {os.cpu_count()} CPUs, load average {load1:.2f} (1 min) {load5:.2f} (5 min)"


# CPU accounting from /proc (Linux); each returns None where it is not available.
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return raw[raw.rindex(")") + 2 :].split()


def _cpu_of(fields_: list[str]) -> float:
    return (int(fields_[11]) + int(fields_[12])) / _TICK  # utime + stime


def process_tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds used so far by `root` and its living descendants."""
    if not Path("/proc").is_dir():
        return None
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        f = _stat_fields(int(entry.name))
        if f is None:
            continue
        parents[int(entry.name)] = int(f[1])
        cpu[int(entry.name)] = _cpu_of(f)
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(cpu.get(pid, 0.0) for pid in tree)


def postgres_backend_cpu(db: Database) -> dict[int, float] | None:
    """CPU seconds used so far by each PostgreSQL backend serving db's database (on
    this machine, as seen in /proc; other databases' sessions, which other work on a
    shared server may be running, are left out); None without /proc or on SQLite.
    Asked over a connection of its own, which is left out."""
    if db.engine.dialect.name != "postgresql" or not Path("/proc").is_dir():
        return None
    import psycopg

    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    out = {}
    for (pid,) in pids:
        f = _stat_fields(int(pid))
        if f is not None:
            out[int(pid)] = _cpu_of(f)
    return out


def backend_cpu_between(
    before: dict[int, float] | None, after: dict[int, float] | None
) -> float | None:
    """CPU seconds the backends used between two samples (a backend that started in
    between counts from its start)."""
    if before is None or after is None:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_busy() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs so far."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    values = [float(v) for v in first[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0.0)  # idle + iowait
    return sum(values) - idle, sum(values)
