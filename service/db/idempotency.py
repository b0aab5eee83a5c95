"""Storage of idempotency keys, and the one transaction a keyed request runs in.

`RequestTransaction` opens a connection and a transaction for the whole request;
`JoinedDatabase` hands the request's units of work sessions inside it, each as a
savepoint (a use case's commit releases its savepoint, its rollback returns to it),
so the write, its audit entries and the stored answer commit together or not at all.
See service/usecases/idempotency.py for why."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col

from service.db.tables import IdempotencyKey
from service.db.uow import Database

# Advisory-lock key space of idempotency keys (the audit chains use another).
_KEY_LOCKS = 0x4D54494B


class JoinedDatabase(Database):
    """The process's database, with every session inside one open connection's
    transaction. Read-only units of work join it too, so that what a view reads back
    after its write is the write."""

    def __init__(self, database: Database, connection: Connection) -> None:
        super().__init__(
            database.url,
            redis_url=database.redis_url,
            login_window_seconds=database.login_window_seconds,
        )
        self._connection = connection
        factory = sessionmaker(
            bind=connection,
            class_=Session,
            expire_on_commit=False,
            autoflush=True,
            join_transaction_mode="create_savepoint",
        )
        self.__dict__["session_factory"] = factory
        self.__dict__["autocommit_session_factory"] = factory
        self.__dict__["engine"] = database.engine

    def dispose(self) -> None:
        """The engine belongs to the process's database."""


class RequestTransaction:
    """One connection and its transaction, from the start of a keyed request to its
    answer, after deleting the caller's expired keys. On SQLite it takes the write
    lock at once (BEGIN IMMEDIATE): a retry arriving meanwhile waits for the first to
    finish and then reads its answer."""

    def __init__(self, database: Database, *, purge: tuple[uuid.UUID, dt.datetime]) -> None:
        self._connection = database.engine.connect()
        user_id, before = purge
        # The caller's expired keys go first, in a transaction of their own, so that
        # their row locks are not held for the length of the request.
        with self._connection.begin():
            IdempotencyRepository(self._connection).purge(user_id=user_id, before=before)
        if self._connection.dialect.name == "sqlite":
            self._connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            self._connection.begin()
        self.database = JoinedDatabase(database, self._connection)
        self.keys = IdempotencyRepository(self._connection)

    def commit(self) -> None:
        try:
            self._connection.commit()
        finally:
            self._connection.close()

    def rollback(self) -> None:
        try:
            self._connection.rollback()
        finally:
            self._connection.close()

    @property
    def closed(self) -> bool:
        return self._connection.closed


def _lock_key(user_id: uuid.UUID, operation: str, key: str) -> int:
    digest = hashlib.sha256(f"{user_id}\n{operation}\n{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class IdempotencyRepository:
    """The keys of one request's transaction (service.usecases.idempotency.KeyStore)."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def try_lock(self, *, user_id: uuid.UUID, operation: str, key: str) -> bool:
        """Hold the key for this transaction; False when another transaction holds it
        (PostgreSQL; on SQLite the write lock taken at BEGIN already serialises)."""
        if self._c.dialect.name != "postgresql":
            return True
        held = func.pg_try_advisory_xact_lock(_KEY_LOCKS, _lock_key(user_id, operation, key))
        return bool(self._c.execute(select(held)).scalar_one())

    def find(self, *, user_id: uuid.UUID, operation: str, key: str) -> dict[str, Any] | None:
        table = IdempotencyKey.__table__  # type: ignore[attr-defined]
        row = (
            self._c.execute(
                select(table).where(
                    table.c.user_id == user_id,
                    table.c.operation == operation,
                    table.c.key == key,
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def purge(self, *, user_id: uuid.UUID, before: dt.datetime) -> int:
        """Delete the caller's keys recorded before `before` (expired answers)."""
        result = self._c.execute(
            delete(IdempotencyKey).where(
                col(IdempotencyKey.user_id) == user_id, col(IdempotencyKey.created_at) < before
            )
        )
        return int(result.rowcount or 0)

    def add(self, values: dict[str, Any]) -> None:
        table = IdempotencyKey.__table__  # type: ignore[attr-defined]
        self._c.execute(table.insert().values(id=uuid.uuid4(), **values))
