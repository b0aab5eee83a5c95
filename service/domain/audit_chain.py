"""The audit trail as hash chains: each entry carries the hash of the one before it.

Entries about a patient form that patient's chain; entries about no patient (log-ins,
staff accounts, the knowledge base) form the `system` chain. An entry's hash covers
its own columns (not its row id, which the database assigns), its place in its chain
and the previous entry's hash, so changing, removing or inserting an entry breaks
every link after it. The database refuses UPDATE and DELETE to the application's
role; the chain is what catches a change made by a role that can get past that (the
tables' owner or a superuser). An owner who rewrites a chain from the changed entry
onwards is caught by the anchors: every few minutes the heads of the chains that
moved are written down in `audit_anchors` and in the log, which lives outside the
database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SYSTEM_CHAIN = "system"
GENESIS = "0" * 64

# The columns an entry's hash covers, in this order. Adding a column to the audit
# trail means adding it here too, or it is not protected.
HASHED = (
    "recorded",
    "action",
    "subtype",
    "outcome",
    "outcome_desc",
    "actor_id",
    "actor_role",
    "entity_type",
    "entity_id",
    "patient_id",
    "request_id",
    "client_request_id",
    "source_ip",
    "before",
    "after",
    "chain_key",
    "chain_seq",
)


def chain_of(patient_id: uuid.UUID | str | None) -> str:
    return str(patient_id) if patient_id is not None else SYSTEM_CHAIN


def _plain(value: Any) -> Any:
    """One spelling per value, whichever engine stored it and read it back."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical(entry: Mapping[str, Any]) -> bytes:
    body = {name: _plain(entry.get(name)) for name in HASHED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def link(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """The hash of an entry that follows `prev_hash` in its chain."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(entry)).hexdigest()


@dataclass(frozen=True)
class Head:
    """The last entry of a chain: its place and its hash."""

    seq: int
    hash: str


def extend(head: Head | None, entry: dict[str, Any], chain_key: str) -> Head:
    """Give `entry` its place after `head` (None: the chain's first entry) and its
    hashes, in place; returns the chain's new head."""
    prev = head.hash if head else GENESIS
    entry["chain_key"] = chain_key
    entry["chain_seq"] = (head.seq if head else 0) + 1
    entry["prev_hash"] = prev
    entry["entry_hash"] = link(prev, entry)
    return Head(entry["chain_seq"], entry["entry_hash"])


@dataclass(frozen=True)
class Break:
    """The first entry at which a chain stops verifying, and why."""

    chain_key: str
    chain_seq: int | None
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"chain {self.chain_key}"
        if self.chain_seq is not None:
            where += f", entry {self.chain_seq}"
        if self.event_id is not None:
            where += f" (audit event id {self.event_id})"
        return f"{where}: {self.reason}"


def walk(chain_key: str, entries: Iterable[Mapping[str, Any]]) -> Break | Head | None:
    """Check one chain's entries, read in `chain_seq` order: the first break, or the
    chain's head when every link holds (None for an empty chain)."""
    expected_prev, expected_seq = GENESIS, 1
    head: Head | None = None
    for entry in entries:
        seq, event_id = entry["chain_seq"], entry.get("id")
        if seq != expected_seq:
            missing = "missing" if seq > expected_seq else "repeated"
            return Break(chain_key, expected_seq, event_id, f"entry {expected_seq} is {missing}")
        if entry["prev_hash"] != expected_prev:
            return Break(chain_key, seq, event_id, "does not follow the entry before it")
        if link(expected_prev, entry) != entry["entry_hash"]:
            return Break(chain_key, seq, event_id, "changed after it was written")
        head = Head(seq, entry["entry_hash"])
        expected_prev, expected_seq = head.hash, seq + 1
    return head


def anchor_digest(
    prev_digest: str, heads: Mapping[str, Head], *, anchored_at: dt.datetime, last_event_id: int
) -> str:
    """An anchor's digest covers the chain heads it saw, when, up to which entry,
    and the anchor before it."""
    body = json.dumps(
        {
            "heads": {k: [h.seq, h.hash] for k, h in sorted(heads.items())},
            "anchored_at": _plain(anchored_at),
            "last_event_id": last_event_id,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(prev_digest.encode("ascii") + b"\n" + body).hexdigest()
