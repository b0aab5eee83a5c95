"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets API workers read while the scheduler writes; foreign keys are off
    # by default in SQLite; busy_timeout waits for a writer instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, hide_parameters=True, connect_args={"check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A database host that drops packets fails a connection attempt in 5 s (503),
    # instead of holding the request for the operating system's TCP timeout.
    engine = create_engine(
        url,
        echo=echo,
        # Statement parameters (health data, hashes) stay out of error messages and logs.
        hide_parameters=True,
        pool_size=10,
        max_overflow=10,
        connect_args={"connect_timeout": 5},
    )
    event.listen(engine, "connect", _note_use)
    event.listen(engine, "checkin", _note_use)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


# A pooled connection idle for longer than this is pinged before use.
IDLE_BEFORE_PING = 10.0
_CHECKED_IN_AT = "medtrack_checked_in_at"


def _note_use(_dbapi_connection: Any, record: Any) -> None:
    """A connection just opened, or just handed back, was alive a moment ago."""
    record.info[_CHECKED_IN_AT] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that has been idle a while, before it is handed out.

    `pool_pre_ping` pings on every checkout: two round trips per API request. A
    connection back in use within IDLE_BEFORE_PING seconds is very unlikely to have
    been dropped since, while one idle longer may have been, by a database restart,
    a proxy or a firewall; only those are pinged. A failed ping makes the pool
    replace this connection and every one opened before it (InvalidatePoolError, as
    `pool_pre_ping` does), so the request never sees it. A connection dropped within
    the window fails its request with a disconnect error (503 with Retry-After), and
    SQLAlchemy then replaces every pooled connection opened before the failure."""
    checked_in = record.info.get(_CHECKED_IN_AT)
    if checked_in is not None and time.monotonic() - checked_in < IDLE_BEFORE_PING:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, dbapi_connection, None):
            raise InvalidatePoolError from error
        raise
    if not alive:
        raise InvalidatePoolError


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Rows handed back by a use case stay readable after its commit.
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False, autoflush=True)


def begin_writing(session: Session) -> None:
    """Take SQLite's write lock now (BEGIN IMMEDIATE), so that nothing the
    transaction reads from here on can change before it writes; a row lock
    (FOR UPDATE) is a no-op there, and SQLite otherwise reads outside any
    transaction until the first write. PostgreSQL uses row locks instead."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw: Any = connection.connection.dbapi_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
