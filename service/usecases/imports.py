"""Importing licensed interaction datasets into the database-backed rule store.

Idempotent: a pair is stored once per dataset (re-importing replaces the
dataset's earlier statement). Curated and imported rules merge at check time
(highest severity wins, sources merged); an "unknown" level is stored but never
alerts. Each run is recorded and changes the knowledge-base version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.db.tables import InteractionImport
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.domain.interactions import KnowledgeBase
from service.domain.severity import Severity
from service.knowledge.importers import UNKNOWN, Rejected, Row, read
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.interactions import external_key, knowledge_base_version

_RANK = {s.value: s.rank for s in Severity} | {UNKNOWN: len(Severity)}


@dataclass(kw_only=True)
class ImportSummary:
    rows_read: int = 0
    pairs_stored: int = 0
    unknown_level: int = 0
    unresolved_names: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    knowledge_base_version: str = ""


class _Keys:
    """Drug names to ingredient keys, each name resolved once; a combination
    product stands for each of its ingredients."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._cache: dict[str, tuple[str, ...]] = {}
        self.external: set[str] = set()

    def __call__(self, name: str) -> tuple[str, ...]:
        keys = self._cache.get(name)
        if keys is None:
            found = self._kb.catalog.resolve(name)
            if found is not None:
                keys = found.ingredients
            else:
                keys = (external_key(name),)
                self.external.add(keys[0])
            self._cache[name] = keys
        return keys


def _collect(
    kb: KnowledgeBase,
    fmt: str,
    paths: Sequence[Path],
    summary: ImportSummary,
    tick: Callable[[int], None],
) -> tuple[dict[tuple[str, str], dict[str, Any]], _Keys]:
    keys = _Keys(kb)
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        for row in read(fmt, path):
            summary.rows_read += 1
            if summary.rows_read % 1000 == 0:
                tick(1000)
            if isinstance(row, Rejected):
                summary.rejected.append(row)
            elif not _add(pairs, keys, row):
                summary.rejected.append(
                    Rejected(where=row.where, reason="both names are the same ingredient")
                )
    tick(summary.rows_read % 1000)
    return pairs, keys


def _add(pairs: dict[tuple[str, str], dict[str, Any]], keys: _Keys, row: Row) -> bool:
    """Add the row's ingredient pairs; False when it names one ingredient twice."""
    added = False
    for a in keys(row.name_a):
        for b in keys(row.name_b):
            if a != b:
                _put(pairs, (a, row.name_a), (b, row.name_b), row)
                added = True
    return added


def _put(
    pairs: dict[tuple[str, str], dict[str, Any]],
    one: tuple[str, str],
    two: tuple[str, str],
    row: Row,
) -> None:
    (ka, na), (kb_, nb) = sorted((one, two))
    seen = pairs.get((ka, kb_))
    if seen is not None and _RANK[seen["severity"]] <= _RANK[row.severity]:
        return
    pairs[(ka, kb_)] = {
        "drug_a": ka,
        "drug_b": kb_,
        "name_a": na[:200],
        "name_b": nb[:200],
        "severity": row.severity,
        "mechanism": row.mechanism,
        "management": row.management,
        "source": row.source,
    }


def import_interactions(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    fmt: str,
    paths: Sequence[Path],
    progress: Callable[[int], None] = lambda _: None,
) -> ImportSummary:
    """Read every file, then store the pairs in one transaction."""
    summary = ImportSummary()
    pairs, keys = _collect(kb, fmt, paths, summary, progress)
    now = clock()
    with uow:
        run = uow.knowledge.add_import(
            InteractionImport(
                format=fmt,
                files=[p.name for p in paths],
                rows_read=summary.rows_read,
                pairs_stored=len(pairs),
                unknown_level=sum(1 for p in pairs.values() if p["severity"] == UNKNOWN),
                unresolved_names=len(keys.external),
                rejected_rows=len(summary.rejected),
                created_at=now,
            )
        )
        uow.knowledge.upsert([{**p, "dataset": fmt, "import_id": run.id} for p in pairs.values()])
        summary.pairs_stored = run.pairs_stored
        summary.unknown_level = run.unknown_level
        summary.unresolved_names = run.unresolved_names
        summary.knowledge_base_version = knowledge_base_version(uow, kb)
        _audit(uow, caller, now, run, summary)
        # Fresh statistics, so the per-check pair query is planned on the new rows
        # rather than waiting for autovacuum (which may be off or lag a bulk load).
        uow.knowledge.analyze()
        uow.commit()
    return summary


def _audit(
    uow: UnitOfWork,
    caller: Caller,
    now: dt.datetime,
    run: InteractionImport,
    summary: ImportSummary,
) -> None:
    """The run as the audit trail keeps it, with the knowledge-base version it made."""
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.CREATE,
        subtype="interactions.import",
        entity_type="InteractionImport",
        entity_id=run.id,
        after={
            "format": run.format,
            "files": run.files,
            "rows_read": run.rows_read,
            "pairs_stored": run.pairs_stored,
            "rejected_rows": run.rejected_rows,
            "knowledge_base_version": summary.knowledge_base_version,
        },
    )
