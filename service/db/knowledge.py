"""Storage of imported interaction datasets and of their import runs."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service.db.tables import ImportedInteraction, InteractionImport

# Rows per INSERT statement: large enough to amortise round trips, small enough
# to stay under SQLite's limit on bound parameters (32766).
_BATCH = 2000


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
        query = (
            select(ImportedInteraction.id)
            .where(
                or_(col(ImportedInteraction.drug_a) == key, col(ImportedInteraction.drug_b) == key)
            )
            .limit(1)
        )
        return self._s.exec(query).first() is not None

    def add_import(self, run: InteractionImport) -> InteractionImport:
        self._s.add(run)
        self._s.flush()
        return run

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert pairs, replacing a dataset's earlier statement about the same pair."""
        dialect = self._s.get_bind().dialect.name
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table: Any = ImportedInteraction.__table__  # type: ignore[attr-defined]
        for start in range(0, len(rows), _BATCH):
            stmt = insert(table).values(list(rows[start : start + _BATCH]))
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
            self._s.execute(stmt)

    def count(self, *, dataset: str | None = None) -> int:
        query = select(func.count()).select_from(ImportedInteraction)
        if dataset is not None:
            query = query.where(ImportedInteraction.dataset == dataset)
        return int(self._s.exec(query).one())

    def keys(self) -> Iterable[str]:
        query = select(ImportedInteraction.drug_a).union(select(ImportedInteraction.drug_b))
        return (str(k) for k in self._s.exec(query))  # type: ignore[call-overload]
