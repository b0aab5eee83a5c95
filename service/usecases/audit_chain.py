"""Verifying the audit trail's hash chains and anchoring their heads."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.db.tables import AuditAnchor
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

    The anchors are read first: chains only grow, so every head an anchor read
    before the walk wrote down is in the chains the walk reads, while entries and
    anchors written during the walk are simply not seen."""
    report = Verification()
    with uow:
        anchors = uow.audit_chain.anchors()
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
        _check_anchors(uow, report, anchors, heads)
    return report


def _check_anchors(
    uow: UnitOfWork,
    report: Verification,
    anchors: list[AuditAnchor],
    heads: Mapping[str, Head],
) -> None:
    """Each anchor follows the one before, and every head it wrote down is still in
    its chain with the same hash: a chain cut short or rewritten to its end fails."""
    prev = GENESIS
    for anchor in anchors:
        report.anchors += 1
        anchored = {k: Head(int(v[0]), str(v[1])) for k, v in anchor.heads.items()}
        where = f"anchor {anchor.id} of {anchor.anchored_at:%Y-%m-%d %H:%M:%S}Z"
        expected = anchor_digest(
            prev, anchored, anchored_at=anchor.anchored_at, last_event_id=anchor.last_event_id
        )
        if anchor.prev_digest != prev or expected != anchor.digest:
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
        last, before_last = uow.audit_chain.last_anchors()
        # Entries are numbered as they are written and committed a moment later, so
        # one with a lower number can commit after an anchor read past it: each
        # anchor looks again at what the one before it covered.
        since = before_last.last_event_id if before_last else 0
        last_event_id, moved = uow.audit_chain.heads_since(since)
        anchored = {k: Head(int(v[0]), str(v[1])) for k, v in last.heads.items()} if last else {}
        heads = {k: h for k, h in moved.items() if anchored.get(k) != h}
        if not heads:
            return None
        prev = last.digest if last else GENESIS
        now = clock()
        digest = anchor_digest(prev, heads, anchored_at=now, last_event_id=last_event_id)
        uow.audit_chain.add_anchor(
            now=now,
            last_event_id=last_event_id,
            heads=heads,
            prev_digest=prev,
            digest=digest,
        )
        uow.commit()
    log.info("audit anchor %s: %d chains up to entry id %d", digest, len(heads), last_event_id)
    return digest
