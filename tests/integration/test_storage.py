"""The schema as migrated: append-only tables, SQLite settings, the unit of work."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError

from service.db.doses import EVENTS
from service.db.engine import make_engine, normalise_url
from service.db.migrate import alembic_config, known_revisions, upgrade
from service.db.tables import User
from service.db.uow import Database, UnitOfWork
from tests.conftest import Builders, is_postgres, postgres_server_url


def _audit_entry() -> dict[str, Any]:
    return {
        "recorded": dt.datetime.now(dt.UTC),
        "action": "E",
        "subtype": "test",
        "outcome": "0",
        "entity_type": "Test",
    }


def _audit_row(database: Database) -> None:
    with database.uow() as uow:
        uow.audit.insert(_audit_entry())
        uow.commit()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_events SET subtype = 'tampered'", "DELETE FROM audit_events"],
)
def test_audit_log_refuses_update_and_delete(
    database: Database, statement: str, count_rows: Callable[[str], int]
) -> None:
    _audit_row(database)
    assert count_rows("audit_events") == 1
    with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement))
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT subtype FROM audit_events")).scalars().all() == ["test"]


def test_prescription_versions_refuse_update(make: Builders, database: Database) -> None:
    doc = make.clinician()
    make.prescription(doc, make.patient(doc))
    with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text("UPDATE prescription_versions SET dose_amount = 99"))


@pytest.mark.skipif(is_postgres(), reason="SQLite connection settings")
def test_sqlite_runs_in_wal_mode_with_foreign_keys(database: Database) -> None:
    with database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(DatabaseError), database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO care_team_members (id, patient_id, clinician_id, added_by, added_at)"
                " VALUES (:i, :p, :c, :c, :t)"
            ),
            {
                "i": uuid.uuid4().hex,
                "p": uuid.uuid4().hex,
                "c": uuid.uuid4().hex,
                "t": dt.datetime.now(dt.UTC),
            },
        )


def _user(email: str) -> User:
    return User(email=email, name="N", role="clinician", created_at=dt.datetime.now(dt.UTC))


def test_unit_of_work_rolls_back_unless_committed(database: Database) -> None:
    with database.uow() as uow:
        uow.users.add(_user("rolled-back@example.org"))

    def failing_use_case() -> None:
        with database.uow() as uow:
            uow.users.add(_user("failed@example.org"))
            raise RuntimeError("use case failed after writing")

    with pytest.raises(RuntimeError):
        failing_use_case()
    with database.uow() as uow:
        uow.users.add(_user("kept@example.org"))
        uow.commit()
    with database.uow() as uow:
        assert uow.users.by_email("rolled-back@example.org") is None
        assert uow.users.by_email("failed@example.org") is None
        assert uow.users.by_email("kept@example.org") is not None


def _in_transaction(uow: UnitOfWork) -> bool:
    """Whether the unit of work's statements run inside one database transaction."""
    connection = uow.session.connection()
    if is_postgres():
        connection.execute(text("SELECT 1"))
        # The second statement of a transaction keeps the transaction's start time.
        same = connection.execute(text("SELECT statement_timestamp() = transaction_timestamp()"))
        return not same.scalar()
    return connection.connection.dbapi_connection.isolation_level is not None  # type: ignore[union-attr]


def test_a_read_only_unit_of_work_runs_without_a_transaction(database: Database) -> None:
    with database.uow() as uow:
        assert _in_transaction(uow)
    with database.uow().read_only() as uow:
        assert not _in_transaction(uow)
        assert uow.users.by_email("nobody@example.org") is None
        with pytest.raises(RuntimeError, match="read-only"):
            uow.commit()
    # Connections go back to the pool transactional again.
    for _ in range(3):
        with database.uow() as uow:
            assert _in_transaction(uow)
            uow.users.add(_user("not-kept@example.org"))
    with database.uow() as uow:
        assert uow.users.by_email("not-kept@example.org") is None


def test_instants_come_back_in_utc(database: Database) -> None:
    local = dt.datetime(2026, 3, 29, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with database.uow() as uow:
        user = uow.users.add(User(email="tz@example.org", name="T", role="admin", created_at=local))
        uow.commit()
    with database.uow() as uow:
        stored = uow.users.get(user.id)
        assert stored is not None
        assert stored.created_at == local
        assert stored.created_at.utcoffset() == dt.timedelta(0)


def test_migrations_build_exactly_the_models_schema(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    with database.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert differences == [], "write a migration for: " + repr(differences)


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own with no schema: a SQLite file, or a throwaway PostgreSQL
    database on the test server."""
    server = postgres_server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    name = f"medtrack_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def test_every_migration_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    """Down to an empty database one revision at a time, then up to head again."""
    from alembic import command

    config = alembic_config(empty_database_url)
    upgrade(empty_database_url)
    engine = create_engine(normalise_url(empty_database_url))
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"users", "patients", "auth_tokens", "notifications"} <= tables
        for _ in sorted(known_revisions()):
            command.downgrade(config, "-1")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(empty_database_url)
        assert set(inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


@pytest.mark.skipif(not is_postgres(), reason="a server that can drop connections: PostgreSQL")
def test_a_pooled_connection_is_pinged_only_after_idling(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new connection, or one back in use at once, is not pinged (no round trip
    per request); one idle past the limit is, and if the server dropped it
    meanwhile, the pool replaces it and every connection opened before it, so no
    request sees a dropped connection."""
    engine = make_engine(database_url)
    pings: list[Any] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    killer = create_engine(normalise_url(database_url))
    pid = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as one, engine.connect() as two:
            first = {one.execute(pid).scalar_one(), two.execute(pid).scalar_one()}
        assert pings == [], "a new connection is not pinged"
        with engine.connect() as one:
            assert one.execute(pid).scalar_one() in first
        assert pings == [], "a connection just checked in is not pinged"

        with killer.connect() as conn:
            for backend in first:
                conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": backend})
        monkeypatch.setattr("service.db.engine.IDLE_BEFORE_PING", 0.5)
        time.sleep(0.6)
        with engine.connect() as one:
            assert one.execute(pid).scalar_one() not in first
        assert len(pings) == 1, "the dropped connection was pinged, its replacement not"
        monkeypatch.setattr("service.db.engine.IDLE_BEFORE_PING", 3600.0)
        with engine.connect() as one, engine.connect() as two:
            now = {one.execute(pid).scalar_one(), two.execute(pid).scalar_one()}
        assert not now & first, "the other dropped connection was replaced too"
    finally:
        killer.dispose()
        engine.dispose()


@pytest.mark.skipif(not is_postgres(), reason="a server that can drop connections: PostgreSQL")
def test_a_connection_dropped_while_in_steady_use_fails_once_then_the_pool_recovers(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    killer = create_engine(normalise_url(database_url))
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        with pytest.raises(OperationalError) as failed, engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        killer.dispose()
        engine.dispose()


def test_a_transactions_audit_entries_are_written_together_at_commit_or_not_at_all(
    make: Builders, database: Database, count_rows: Callable[[str], int]
) -> None:
    doc = make.clinician()
    for _ in range(3):
        make.patient(doc)
    before = count_rows("audit_events")
    inserts: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            inserts.append(len(params) if isinstance(params, list) else 1)

    event.listen(make.app.extensions["medtrack"].db.engine, "before_cursor_execute", seen)
    try:
        r = make.client.get("/v1/patients", headers=doc.headers)
    finally:
        event.remove(make.app.extensions["medtrack"].db.engine, "before_cursor_execute", seen)
    assert r.status_code == 200
    assert len(r.get_json()) == 3
    assert inserts == [3], "one statement for the page's three reads"
    assert count_rows("audit_events") == before + 3

    with database.uow() as uow:
        uow.audit.insert(_audit_entry())
    assert count_rows("audit_events") == before + 3, "not committed, not written"


def test_batches_beyond_sqlites_old_limit_of_999_parameters(
    make: Builders, database: Database
) -> None:
    """SQLite before 3.32 allows 999 bound parameters per statement and a dispatch
    batch holds up to 1,000 messages: every batched statement stays within that."""
    if not is_postgres():

        def limit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)

        database.engine.dispose()
        event.listen(database.engine, "connect", limit)
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    assert make.client.get("/v1/me/doses/today", headers=pat.headers).status_code == 200
    with database.engine.connect() as conn:
        dose = uuid.UUID(str(conn.execute(text("SELECT id FROM dose_events")).scalars().first()))
    doses = [uuid.uuid4() for _ in range(1500)] + [dose]
    others = [uuid.uuid4() for _ in range(1500)]
    now = dt.datetime.now(dt.UTC)
    with database.uow() as uow:
        assert set(uow.doses.event_facts(doses)) == {dose}
        assert uow.doses.statuses_of([*others, uuid.UUID(rx["id"])]) == {
            uuid.UUID(rx["id"]): "active"
        }
        assert uow.devices.devices_of(others) == {u: [] for u in others}
        uow.doses.mark_reminded(doses, now=now)
        uow.doses.mark_care_team_notified(doses, now=now)
        uow.outbox.settle(token="t", now=now, sent=list(range(1, 1501)))
        uow.outbox.reopen_withdrawn(doses, now=now)
        uow.devices.remove_devices([str(u) for u in others], reason="test", now=now)
        uow.commit()
    with database.engine.connect() as conn:
        row = conn.execute(
            select(EVENTS.c.status, EVENTS.c.care_team_notified_at).where(EVENTS.c.id == dose)
        ).one()
    assert row[0] == "reminded"
    assert row[1] is not None
