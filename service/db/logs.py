"""Database errors in logs without the data they carry.

A failed statement's message can quote stored values: PostgreSQL's DETAIL repeats a
failing row ("Failing row contains (...)"), and the statement's text can hold
literals. Health data has no place in logs, so a logged database error keeps its
traceback, class and SQLSTATE, and drops the message.
"""

from __future__ import annotations

import logging
import traceback

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError


def _database_error(exc: BaseException | None) -> DBAPIError | None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DBAPIError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def describe(error: DBAPIError) -> str:
    """The error without its message: class, driver class and SQLSTATE."""
    orig = error.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    code = f", SQLSTATE {state}" if state else ""
    return (
        f"{type(error).__name__} ({type(orig).__name__}{code}); "
        "statement and details withheld from the log"
    )


class RedactDatabaseErrors(logging.Filter):
    """Replaces a logged database error by its traceback and `describe()`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        error = _database_error(record.exc_info[1])
        if error is None:
            return True
        frames = "".join(traceback.format_tb(record.exc_info[2]))
        record.exc_text = f"Traceback (most recent call last):\n{frames}{describe(error)}"
        record.exc_info = None
        return True


# One shape for every process's lines: the API (gunicorn's own lines included) and the
# scheduler.
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that talk at INFO about their own workings: alembic names every plugin it
# registers when imported (seven lines per process) and every migration step, and
# APScheduler every run of every job. Their INFO shows at DEBUG; at INFO, only what
# they warn about.
CHATTY_LIBRARIES = ("alembic", "apscheduler")


def configure_logging(level: str | int) -> None:
    """`logging.basicConfig` in `FORMAT`, with database errors redacted on every root
    handler and the chatty libraries held to warnings unless `level` is DEBUG."""
    logging.basicConfig(level=level, format=FORMAT)
    number = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(
            logging.NOTSET if number <= logging.DEBUG else max(logging.WARNING, number)
        )
    for handler in logging.root.handlers:
        if not any(isinstance(f, RedactDatabaseErrors) for f in handler.filters):
            handler.addFilter(RedactDatabaseErrors())


def redacted_url(url: str) -> str:
    """A database URL fit for a log line: any password replaced by `***`, whether in
    the user part or a query parameter (`?password=`, `?sslpassword=`, `?passfile=`)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(a database URL that does not parse)"
    secret = {k: "***" for k in parsed.query if "pass" in k.lower()}
    shown = parsed.update_query_dict(secret).render_as_string(hide_password=True)
    return shown.replace("%2A%2A%2A", "***")
