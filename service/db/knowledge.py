"""Storage of imported interaction datasets and of their import runs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import exists, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service.db.tables import ImportedInteraction, InteractionImport

# Rows per executemany call, to bound the memory of one call.
_BATCH = 5000


class KnowledgeRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def import_count(self) -> int:
        return int(self._s.exec(select(func.count()).select_from(InteractionImport)).one())

    def pairs_among(self, keys: Collection[str]) -> list[ImportedInteraction]:
        """Imported pairs whose two drugs are both among `keys`, without 'unknown' ones."""
        if len(keys) < 2:
            return []
        query = select(ImportedInteraction).where(
            col(ImportedInteraction.drug_a).in_(keys),
            col(ImportedInteraction.drug_b).in_(keys),
            ImportedInteraction.severity != "unknown",
        )
        return list(self._s.exec(query))

    def knows(self, key: str) -> bool:
        """Whether any imported pair names this drug key."""
        # Two EXISTS probes each use an index even before the table is analysed;
        # an OR across both columns can fall back to a full scan on PostgreSQL.
        either = select(
            or_(
                exists().where(col(ImportedInteraction.drug_a) == key),
                exists().where(col(ImportedInteraction.drug_b) == key),
            )
        )
        return bool(self._s.exec(either).one())

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
        table: Any = ImportedInteraction.__table__  # type: ignore[attr-defined]
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
