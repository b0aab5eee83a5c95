"""Starting the scheduler from settings: `medtrack scheduler` and `python -m schedules`."""

from __future__ import annotations

import argparse
import sys

from schedules.app import Jobs, run
from service.bootstrap import bootstrap
from service.config import Settings, SettingsError
from service.db.logs import configure_logging, redacted_url


def start(settings: Settings, *, once: bool) -> None:
    """Build the jobs from settings and run them; ValueError for bad notifier settings."""
    configure_logging(settings.log_level)
    runtime = bootstrap(settings)
    jobs = Jobs(
        database=runtime.db,
        kb=runtime.knowledge,
        notifier=runtime.notifier(),
        policy=runtime.reminders,
        clock=runtime.clock,
        send_threads=settings.dispatch_threads,
    )
    run(
        jobs,
        once=once,
        dispatch_seconds=settings.dispatch_interval_seconds,
        doing=f"planning doses and sending reminders (notifier: {settings.notifier}) "
        f"on {redacted_url(settings.database_url)}",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schedules", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run every job once and exit")
    args = parser.parse_args(argv)
    try:
        start(Settings.from_env(), once=args.once)
    except (SettingsError, ValueError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    return 0
