"""Storage of imported interaction datasets and of their import runs."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

from sqlalchemy import (
    CompoundSelect,
    String,
    Table,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session
from sqlmodel import select as model_select

from service.db.tables import ImportedInteraction, InteractionImport

# Rows per executemany call, to bound the memory of one call.
_BATCH = 5000

_TABLE: Table = ImportedInteraction.__table__  # type: ignore[attr-defined]

# dataset, drug_a, drug_b, severity, mechanism, management, source
PairRow = tuple[str, str, str, str, str | None, str | None, str | None]


def _pairs_query(match: Callable[[Any, str], Any]) -> CompoundSelect[Any]:
    """Pairs from `keys` to `near`; each half of the union is an index scan from one side."""
    t = _TABLE
    columns = (
        t.c.dataset,
        t.c.drug_a,
        t.c.drug_b,
        t.c.severity,
        t.c.mechanism,
        t.c.management,
        t.c.source,
    )
    alerting = t.c.severity != "unknown"
    return union(
        select(*columns).where(match(t.c.drug_a, "keys"), match(t.c.drug_b, "near"), alerting),
        select(*columns).where(match(t.c.drug_b, "keys"), match(t.c.drug_a, "near"), alerting),
    )


# Built once. On PostgreSQL `= ANY(array)` keeps the SQL text the same whatever the
# list lengths, so psycopg prepares it and the server stops re-planning it; SQLite
# expands the lists into IN (...).
_PAIRS = _pairs_query(lambda column, name: column.in_(bindparam(name, expanding=True)))
_PAIRS_PG = _pairs_query(lambda column, name: column == any_(bindparam(name, type_=ARRAY(String))))
# Two EXISTS probes each use an index even before the table is analysed; an OR
# across both columns can fall back to a full scan on PostgreSQL.
_KNOWS = select(
    or_(
        exists().where(_TABLE.c.drug_a == bindparam("key")),
        exists().where(_TABLE.c.drug_b == bindparam("key")),
    )
)


class KnowledgeRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def import_count(self) -> int:
        return int(self._s.exec(model_select(func.count()).select_from(InteractionImport)).one())

    def pairs_touching(self, keys: Collection[str], others: Collection[str]) -> list[PairRow]:
        """Imported pairs between one of `keys` and one of `keys` or `others`.

        Rows are (dataset, drug_a, drug_b, severity, mechanism, management, source);
        'unknown' levels are left out. This runs on every check, so it is one
        prepared statement, one round trip, and plain rows instead of ORM objects.
        """
        if not keys:
            return []
        connection = self._s.connection()
        query = _PAIRS_PG if connection.dialect.name == "postgresql" else _PAIRS
        params = {"keys": list(keys), "near": [*keys, *others]}
        return [cast(PairRow, tuple(row)) for row in connection.execute(query, params)]

    def knows(self, key: str) -> bool:
        """Whether any imported pair names this drug key."""
        return bool(self._s.connection().execute(_KNOWS, {"key": key}).scalar())

    def analyze(self) -> None:
        """Refresh the planner's statistics of the imported-pair table."""
        self._s.connection().exec_driver_sql(f"ANALYZE {_TABLE.name}")

    def add_import(self, run: InteractionImport) -> InteractionImport:
        self._s.add(run)
        self._s.flush()
        return run

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert pairs, replacing a dataset's earlier statement about the same pair."""
        if not rows:
            return
        dialect = self._s.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table: Any = _TABLE
        # One statement, compiled once and run with many parameter sets: building a
        # multi-row VALUES statement per batch spent most of an import compiling SQL.
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["dataset", "drug_a", "drug_b"],
            set_={
                c: stmt.excluded[c]
                for c in (
                    "name_a",
                    "name_b",
                    "severity",
                    "mechanism",
                    "management",
                    "source",
                    "import_id",
                )
            },
        )
        connection = self._s.connection()
        for start in range(0, len(rows), _BATCH):
            connection.execute(stmt, list(rows[start : start + _BATCH]))
