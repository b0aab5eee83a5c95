"""Verifying the audit trail's hash chains and anchoring their heads."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.db.uow import UnitOfWork
from service.domain.audit_chain import GENESIS, Break, Head, anchor_digest, walk
from service.usecases.context import Clock

log = logging.getLogger("medtrack.audit")


@dataclass
class Verification:
    """What `verify` walked, and the first break of each chain that has one."""

    chains: int = 0
    entries: int = 0
    anchors: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.breaks


def _counted(entries: Iterable[Mapping[str, Any]], report: Verification) -> Iterator[Any]:
    for entry in entries:
        report.entries += 1
        yield entry


def verify(*, uow: UnitOfWork) -> Verification:
    """Walk every chain, then check every anchor against the chains as they are now.

    Read in one transaction (a snapshot on PostgreSQL), so entries written while it
    runs are not half-seen."""
    report = Verification()
    with uow:
        stray = uow.audit_chain.unchained()
        if stray is not None:
            reason = "is in no chain: it was written past the application"
            report.breaks.append(Break("none", None, stray, reason))
        heads: dict[str, Head] = {}
        for key, entries in uow.audit_chain.chains():
            report.chains += 1
            result = walk(key, _counted(entries, report))
            if isinstance(result, Break):
                report.breaks.append(result)
            elif result is not None:
                heads[key] = result
        _check_anchors(uow, report, heads)
    return report


def _check_anchors(uow: UnitOfWork, report: Verification, heads: Mapping[str, Head]) -> None:
    """Each anchor follows the one before, and every head it wrote down is still in
    its chain with the same hash: a chain cut short or rewritten to its end fails."""
    prev = GENESIS
    for anchor in uow.audit_chain.anchors():
        report.anchors += 1
        anchored = {k: Head(int(v[0]), str(v[1])) for k, v in anchor.heads.items()}
        where = f"anchor {anchor.id} of {anchor.anchored_at:%Y-%m-%d %H:%M:%S}Z"
        if anchor.prev_digest != prev or anchor_digest(prev, anchored) != anchor.digest:
            report.breaks.append(Break("anchors", None, None, f"{where} was changed"))
            return
        prev = anchor.digest
        for key, head in sorted(anchored.items()):
            now = heads.get(key)
            entry = None
            if now is not None and now.seq >= head.seq:
                entry = (
                    now
                    if now.seq == head.seq
                    else _head_at(uow.audit_chain.entry(key, head.seq), head.seq)
                )
            if entry is None or entry.hash != head.hash:
                reason = f"no longer holds the entry {where} saw (hash {head.hash[:12]})"
                report.breaks.append(Break(key, head.seq, None, reason))
                return


def _head_at(row: Mapping[str, Any] | None, seq: int) -> Head | None:
    return Head(seq, str(row["entry_hash"])) if row else None


def anchor(*, uow: UnitOfWork, clock: Clock) -> str | None:
    """Write down the heads of the chains that moved since the last anchor; the
    digest also goes to the log, which is kept outside the database. None when no
    chain moved."""
    with uow:
        uow.audit_chain.lock_anchors()
        last = uow.audit_chain.last_anchor()
        since = last.last_event_id if last else 0
        last_event_id, heads = uow.audit_chain.heads_since(since)
        if not heads:
            return None
        prev = last.digest if last else GENESIS
        digest = anchor_digest(prev, heads)
        uow.audit_chain.add_anchor(
            now=clock(),
            last_event_id=last_event_id,
            heads=heads,
            prev_digest=prev,
            digest=digest,
        )
        uow.commit()
    log.info("audit anchor %s: %d chains up to entry id %d", digest, len(heads), last_event_id)
    return digest
