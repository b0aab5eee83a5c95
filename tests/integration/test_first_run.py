"""`medtrack run` as a newcomer starts it: a real subprocess (gunicorn and the scheduler
beside it) on a free port over a migrated database, at the default level (INFO) in
development. Start-up says one line per process, what it serves and where; nothing
from the libraries; the development secret's warning once for the whole server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from service.config import Settings
from service.db.logs import redacted_url
from service.server import serving_line

# One log line: `2026-12-05 19:54:53,576 INFO medtrack.api: serving ...`.
LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<name>\S+): (?P<text>.*)$"
)
WARNING = "MEDTRACK_SECRET_KEY is the development default: tokens are forgeable"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: object, *, what: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not predicate():  # type: ignore[operator]
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what}; the log so far:\n{log.read_text()}")
        time.sleep(0.2)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture
def started(database_url: str, tmp_path: Path) -> tuple[int, list[str], list[str]]:
    """`medtrack run` started, /readyz answered, the scheduler ticking, then stopped:
    its port, the lines of its error stream and of its access log."""
    port = _free_port()
    err, out = tmp_path / "stderr.log", tmp_path / "stdout.log"
    # A newcomer's environment: no MEDTRACK_ variable but the database.
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDTRACK_")}
    env["MEDTRACK_DATABASE_URL"] = database_url
    with err.open("wb") as e, out.open("wb") as o:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "service.cli", "run", "--port", str(port)],
            env=env,
            stdout=o,
            stderr=e,
            cwd=tmp_path,
        )
    try:
        ready = f"http://127.0.0.1:{port}/readyz"
        _wait_for(
            lambda: _ready(ready), what="/readyz never answered 200", process=process, log=err
        )
        _wait_for(
            lambda: "medtrack.scheduler: started" in err.read_text(),
            what="the scheduler never said it started",
            process=process,
            log=err,
        )
        # The first /readyz reads the migrations in each worker: no line may follow.
        for _ in range(4):
            assert _ready(ready)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return port, err.read_text().splitlines(), out.read_text().splitlines()


def test_start_up_says_one_line_per_process(
    started: tuple[int, list[str], list[str]], database_url: str
) -> None:
    port, errors, access = started
    parsed = [LINE.match(line) for line in errors]
    assert all(parsed), f"every line in the one format: {errors}"
    said = [(m["level"], m["name"], m["text"]) for m in parsed if m]
    # Stopping is said too (SIGTERM reached the scheduler); start-up is everything else.
    stopping = (
        "INFO",
        "medtrack.scheduler",
        "signal 15: finishing the current batch, then stopping",
    )
    start_up = sorted(line for line in said if line != stopping)
    url = redacted_url(database_url)
    assert start_up[0] == (
        "INFO",
        "medtrack.api",
        f"serving http://127.0.0.1:{port} (API /v1/, console /console/, FHIR /fhir/R4, "
        "CDS Hooks /cds-services, docs /docs) "
        f"with gunicorn, 2 workers x 4 threads, on {url}",
    )
    level, name, text = start_up[1]
    assert (level, name) == ("INFO", "medtrack.scheduler")
    assert re.fullmatch(
        rf"started as [^ ]+:\d+:[0-9a-f]{{8}}, planning doses and sending reminders "
        rf"\(notifier: log\) on {re.escape(url)}",
        text,
    ), text
    assert start_up[2:] == [("WARNING", "medtrack.api", WARNING)]
    assert not any("alembic" in line for line in errors)
    # The access log holds the requests and nothing else.
    assert all('"GET /readyz HTTP/1.1" ' in line for line in access), access
    assert sum('"GET /readyz HTTP/1.1" 200' in line for line in access) >= 5


def test_the_serving_line_never_shows_a_password() -> None:
    settings = Settings(database_url="postgresql://medtrack:s3cret%40pw@db.internal:5432/medtrack")
    line = serving_line(settings, urls=["http://0.0.0.0:8080"], workers=3, threads=2)
    assert "s3cret" not in line
    assert line == (
        "serving http://0.0.0.0:8080 (API /v1/, console /console/, FHIR /fhir/R4, "
        "CDS Hooks /cds-services, docs /docs) with gunicorn, "
        "3 workers x 2 threads, on postgresql://medtrack:***@db.internal:5432/medtrack"
    )
