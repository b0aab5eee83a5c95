"""What the benchmarks share: throwaway PostgreSQL databases, engine arguments,
profiles, percentiles and the machine line every report ends with."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import uuid
from collections.abc import Iterator

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


@contextlib.contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A throwaway database on the server, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

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
