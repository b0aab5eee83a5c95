"""The audit trail's storage: entries written in hash chains, read back to verify."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlmodel import Session, col
from sqlmodel import select as orm_select

from service.db.engine import begin_writing
from service.db.paging import count_rows
from service.db.tables import AuditAnchor, AuditEvent, Patient, User
from service.domain.audit_chain import Head, chain_of, extend
from service.domain.pages import Page

AUDIT_EVENTS: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_INSERT_AUDIT = insert(AUDIT_EVENTS)
_E = AUDIT_EVENTS.c
# The two-key advisory locks are a key space apart from the one-key record locks
# (service.db.record); the first key says "audit chain".
_CHAIN_LOCKS = 0x4D544143


def _stored_json(value: Any) -> Any:
    """The value as the JSON column gives it back (string keys, lists), so that the
    hash written now is the hash computed when the entry is read."""
    return None if value is None else json.loads(json.dumps(value))


def _chain_lock_key(chain_key: str) -> int:
    digest = hashlib.sha256(chain_key.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self._s = session
        self._pending: list[dict[str, Any]] = []

    def insert(self, values: dict[str, Any]) -> None:
        """Queue one entry (a row's column values) for `write`, which the unit of
        work calls as it commits: no ORM object to build and flush, no RETURNING of
        its id, and one statement for all of a transaction's entries."""
        self._pending.append(values)

    def write(self) -> None:
        """Write the queued entries at the ends of their chains, after the pending
        ORM changes (a flush), so the rows they refer to exist.

        Writers to one chain take turns from here to their commit: an advisory lock
        per chain on PostgreSQL, the database's write lock on SQLite. Before taking
        it, a writer takes the key-share locks its entries' foreign keys need, so a
        writer holding a chain never waits on a row another writer holds while that
        one waits for the chain."""
        if not self._pending:
            return
        self._s.flush()
        entries, self._pending = self._pending, []
        by_chain: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            entry["before"] = _stored_json(entry.get("before"))
            entry["after"] = _stored_json(entry.get("after"))
            entry.setdefault("client_request_id", None)
            by_chain.setdefault(chain_of(entry.get("patient_id")), []).append(entry)
        self._take_chains(entries, sorted(by_chain))
        connection = self._s.connection()
        for key in sorted(by_chain):
            head = self._head(key)
            for entry in by_chain[key]:
                head = extend(head, entry, key)
        connection.execute(_INSERT_AUDIT, entries)

    def _take_chains(self, entries: list[dict[str, Any]], keys: list[str]) -> None:
        connection = self._s.connection()
        if connection.dialect.name != "postgresql":
            begin_writing(self._s)
            return
        patients = {e["patient_id"] for e in entries if e.get("patient_id") is not None}
        actors = {e["actor_id"] for e in entries if e.get("actor_id") is not None}
        if patients:
            connection.execute(
                select(col(Patient.id))
                .where(col(Patient.id).in_(patients))
                .with_for_update(key_share=True, read=True)
            )
        if actors:
            connection.execute(
                select(col(User.id))
                .where(col(User.id).in_(actors))
                .with_for_update(key_share=True, read=True)
            )
        for key in keys:
            connection.execute(
                select(func.pg_advisory_xact_lock(_CHAIN_LOCKS, _chain_lock_key(key)))
            )

    def _head(self, key: str) -> Head | None:
        row = (
            self._s.connection()
            .execute(
                select(_E.chain_seq, _E.entry_hash)
                .where(_E.chain_key == key)
                .order_by(_E.chain_seq.desc())
                .limit(1)
            )
            .first()
        )
        return Head(row.chain_seq, row.entry_hash) if row else None

    def list_for_patient(
        self, patient_id: uuid.UUID, *, limit: int, offset: int, newest_first: bool = False
    ) -> Page[AuditEvent]:
        order = col(AuditEvent.id).desc() if newest_first else col(AuditEvent.id)
        query = orm_select(AuditEvent).where(AuditEvent.patient_id == patient_id).order_by(order)
        rows = list(self._s.exec(query.limit(limit).offset(offset)))
        return Page(rows, total=count_rows(self._s, query))


class AuditChainRepository:
    """Reads the chains whole, for `medtrack audit verify` and the anchoring job."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def unchained(self) -> int | None:
        """The id of an entry that is in no chain (written past the application), if any."""
        row = (
            self._s.connection()
            .execute(select(_E.id).where(_E.chain_key.is_(None)).order_by(_E.id).limit(1))
            .first()
        )
        return int(row.id) if row else None

    def chains(self) -> Iterator[tuple[str, Iterator[dict[str, Any]]]]:
        """Every chain's entries in chain order, streamed: each chain's entries must
        be read (or dropped) before the next chain's."""
        rows = (
            self._s.connection()
            .execution_options(yield_per=2000)
            .execute(
                select(AUDIT_EVENTS)
                .where(_E.chain_key.is_not(None))
                .order_by(_E.chain_key, _E.chain_seq)
            )
            .mappings()
        )
        for key, entries in itertools.groupby(rows, key=lambda row: str(row["chain_key"])):
            yield key, (dict(row) for row in entries)

    def lock_anchors(self) -> None:
        """One anchoring at a time, whichever scheduler runs it."""
        begin_writing(self._s)
        connection = self._s.connection()
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCKS, 0)))

    def entry(self, chain_key: str, seq: int) -> dict[str, Any] | None:
        row = (
            self._s.connection()
            .execute(select(AUDIT_EVENTS).where(_E.chain_key == chain_key, _E.chain_seq == seq))
            .mappings()
            .first()
        )
        return dict(row) if row else None

    def anchors(self) -> list[AuditAnchor]:
        return list(self._s.exec(orm_select(AuditAnchor).order_by(col(AuditAnchor.id))))

    def last_anchors(self) -> tuple[AuditAnchor | None, AuditAnchor | None]:
        """The last anchor and the one before it."""
        query = orm_select(AuditAnchor).order_by(col(AuditAnchor.id).desc()).limit(2)
        rows = list(self._s.exec(query))
        return (rows[0] if rows else None, rows[1] if len(rows) > 1 else None)

    def heads_since(self, event_id: int) -> tuple[int, dict[str, Head]]:
        """The heads of the chains with entries after `event_id`, and the last id."""
        connection = self._s.connection()
        last = connection.execute(select(func.max(_E.id))).scalar()
        if last is None or last <= event_id:
            return event_id, {}
        moved = (
            select(_E.chain_key, func.max(_E.chain_seq).label("seq"))
            .where(_E.id > event_id, _E.id <= last, _E.chain_key.is_not(None))
            .group_by(_E.chain_key)
            .subquery()
        )
        rows = connection.execute(
            select(_E.chain_key, _E.chain_seq, _E.entry_hash).join(
                moved, (moved.c.chain_key == _E.chain_key) & (moved.c.seq == _E.chain_seq)
            )
        )
        return int(last), {r.chain_key: Head(r.chain_seq, r.entry_hash) for r in rows}

    def add_anchor(
        self,
        *,
        now: dt.datetime,
        last_event_id: int,
        heads: Mapping[str, Head],
        prev_digest: str,
        digest: str,
    ) -> None:
        self._s.add(
            AuditAnchor(
                anchored_at=now,
                last_event_id=last_event_id,
                heads={k: [h.seq, h.hash] for k, h in sorted(heads.items())},
                prev_digest=prev_digest,
                digest=digest,
            )
        )
