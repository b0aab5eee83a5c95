"""Backups that restore: a consistent copy taken while the service runs.

SQLite: the online backup API copies the database page by page under its own read
transaction, so writers carry on and the copy is one consistent moment. PostgreSQL:
`pg_dump` in its custom format (one snapshot, compressed) and `pg_restore` into an
empty database; ownership and grants are not carried over: the restoring role owns
what it restores, and `medtrack db upgrade` grants the runtime role again.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url

from service.db.engine import normalise_url


class BackupError(RuntimeError):
    """A backup or restore could not be made; the message says why."""


def _url(database_url: str) -> URL:
    return make_url(normalise_url(database_url))


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The URL as libpq (pg_dump, pg_restore) takes it, without the password, which
    goes in the environment: a command line is readable by every user of the host."""
    bare = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return bare, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (PostgreSQL's client tools)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


def backup(database_url: str, target: Path) -> None:
    """Write a consistent copy of the database to `target` (which must not exist)."""
    if target.exists():
        raise BackupError(f"{target} exists; a backup never overwrites a file")
    url = _url(database_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A copy of every record: readable by its owner only, from its first byte.
    target.touch(mode=0o600, exist_ok=False)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(target)
        try:
            with copy:
                # One step: a single read transaction, so one consistent moment.
                source.backup(copy)
        finally:
            copy.close()
            source.close()
        return
    dsn, env = _libpq(url)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), dsn], env)


def restore(source: Path, database_url: str) -> None:
    """Restore a backup into an empty database (a new SQLite file, or a PostgreSQL
    database with no tables): a restore never mixes with what is there."""
    if not source.is_file():
        raise BackupError(f"{source} is not a backup file")
    url = _url(database_url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(f"{path} exists; restore into a new database file")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        backup_db = sqlite3.connect(source)
        target = sqlite3.connect(path)
        try:
            try:
                integrity = backup_db.execute("PRAGMA integrity_check").fetchone()
            except sqlite3.DatabaseError as exc:
                raise BackupError(f"{source} is not a SQLite database") from exc
            if integrity is None or integrity[0] != "ok":
                raise BackupError(f"{source} is not a sound SQLite database")
            with target:
                backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
        return
    engine = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError("the target database has tables; restore into an empty database")
    dsn, env = _libpq(url)
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "--single-transaction",
            "--dbname",
            dsn,
            str(source),
        ],
        env,
    )
