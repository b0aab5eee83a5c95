"""What changed in a patient's record since the app last synced: prescriptions,
doses, taper plans and findings, with an opaque cursor to carry on from.

The feed reads the patient's audit chain, where every change of their record is
written with the change. A cursor is a place in that chain (`chain_seq`), not an
audit row id: row ids come from one sequence for every writer, and a transaction
that drew a lower id can commit after one that drew a higher id, so a reader that
has seen the higher id would skip the lower one for ever. A chain's places cannot do
that: writers to one chain take turns from the moment they read its head to their
commit (service.db.audit: an advisory lock per chain on PostgreSQL, the write lock
on SQLite), so place n+1 is only ever written after place n is committed. Whatever
a reader sees of the chain is therefore a gap-free prefix of it, and "after place
n" misses nothing, with no safety window or dedup across pages.

Each entry names its entity (the patient-facing ids: the prescription, the dose,
the plan, the finding) and `op`: `upsert` (fetch it again), or `remove` for a finding
no longer in force. An entity changed several times within a page is listed once,
at its last change. Clinician-only entries (interaction checks, reads, refusals,
the care team, notifications) are never listed; the app reads what changed through
the patient's own views. A dose the scheduler marks missed is audited under the
patient (service/usecases/followups.py) and so listed; the doses it plans ahead, and
their reminders, follow from the prescriptions listed and are not audited changes:
`GET /v1/me/doses/today` (with its ETag) shows them.

The cursor is signed with the secret key and names the patient, so a cursor that
was altered, or that belongs to another patient, is refused (400).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from service.db.changes import RESCREEN, ChangesRepository
from service.db.uow import UnitOfWork
from service.domain.accounts import Role
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, ValidationFailed

FIELD = "query.since"
TYPES = {
    "Prescription": "prescription",
    "DoseEvent": "dose",
    "TaperPlan": "taper_plan",
    "PatientFinding": "finding",
}


@dataclass(frozen=True, kw_only=True)
class Change:
    type: str
    id: str
    op: str
    changed_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class ChangesPage:
    changes: list[Change]
    next_cursor: str
    has_more: bool


class BadCursor(ValidationFailed):
    """A cursor this service did not give this patient (the request is malformed: 400)."""


class Cursors:
    """Opaque cursors: a place in one patient's chain, signed."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"medtrack changes cursor\n" + secret_key.encode()).digest()

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, patient_id: uuid.UUID, seq: int) -> str:
        payload = json.dumps({"p": str(patient_id), "s": seq}, separators=(",", ":")).encode()
        token = payload + self._mac(payload)
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, patient_id: uuid.UUID, cursor: str) -> int:
        try:
            token = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload, mac = token[:-16], token[-16:]
            if not hmac.compare_digest(mac, self._mac(payload)):
                raise ValueError("signature")
            fields = json.loads(payload)
            seq = fields["s"]
            if fields["p"] != str(patient_id) or not isinstance(seq, int) or seq < 0:
                raise ValueError("patient")
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            message = "Send a cursor exactly as a previous answer gave it in next_cursor."
            raise BadCursor("The cursor is not valid.", errors={FIELD: [message]}) from exc
        return seq


def _changes_of(entry: dict[str, Any], plans: dict[str, str]) -> list[tuple[str, str, str]]:
    """(type, id, op) of each patient-facing entity an audit entry changed."""
    if entry["subtype"] == RESCREEN:
        after = entry["after"] or {}
        found = [("finding", str(f["finding_id"]), "upsert") for f in after.get("found", [])]
        gone = [("finding", str(f["finding_id"]), "remove") for f in after.get("resolved", [])]
        return found + gone
    kind = TYPES[entry["entity_type"]]
    entity_id = entry["entity_id"]
    if kind == "finding":
        # The finding's id as the patient's views give it, not the row's.
        entity_id = (entry["after"] or {}).get("id", entity_id)
    if entity_id is None:
        return []
    changed = [(kind, str(entity_id), "upsert")]
    if kind == "taper_plan" and str(entity_id) in plans:
        # The prescription's view names its open plan: a plan drafted, finished or
        # cancelled changes it too.
        changed.append(("prescription", plans[str(entity_id)], "upsert"))
    return changed


def list_changes(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    cursors: Cursors,
    since: str | None,
    limit: int,
) -> ChangesPage:
    """The signed-in patient's changes after `since` (from the start without it)."""
    who = caller.require()
    if who.role is not Role.PATIENT or who.patient_id is None:
        raise Forbidden("Only a patient has a record of their own to sync.")
    patient_id = who.patient_id
    seq = cursors.decode(patient_id, since) if since else 0
    with uow:
        repository = ChangesRepository(uow.session)
        entries = repository.after(patient_id, seq=seq, limit=limit + 1)
        has_more = len(entries) > limit
        entries = entries[:limit]
        plans = repository.prescriptions_of_plans(
            {str(e["entity_id"]) for e in entries if e["entity_type"] == "TaperPlan"}
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="changes.list",
            entity_type="Patient",
            patient_id=patient_id,
        )
    latest: dict[tuple[str, str], Change] = {}
    for entry in entries:
        for kind, entity_id, op in _changes_of(entry, plans):
            latest.pop((kind, entity_id), None)
            latest[(kind, entity_id)] = Change(
                type=kind, id=entity_id, op=op, changed_at=entry["recorded"]
            )
    last = int(entries[-1]["chain_seq"]) if entries else seq
    return ChangesPage(
        changes=list(latest.values()),
        next_cursor=cursors.encode(patient_id, last),
        has_more=has_more,
    )
