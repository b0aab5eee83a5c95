"""Fixtures of the fault suite, and a terminal summary of every test's figures.

The figures are printed as each test ends (visible with `-s`), listed again at the end
of the run in a "reliability figures" section, and quoted in assertion messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.receiver import Receiver
from tests.reliability.harness import REPORTED, SECRET, Processes


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(secret=SECRET).start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Subprocesses of this test; any still running at the end is killed."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not REPORTED:
        return
    terminalreporter.section("reliability figures")
    for title, values in REPORTED:
        shown = ", ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
        )
        terminalreporter.write_line(f"{title}: {shown}")
