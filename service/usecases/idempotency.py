"""Idempotency keys: a retried request gets the first answer, never a second write
(IETF draft-ietf-httpapi-idempotency-key-header).

A request that creates or logs something may carry `Idempotency-Key`. The key is
scoped to the caller and the operation (method and route template) and remembers a
fingerprint of the request (its path, query and canonical JSON body) and the answer.

One transaction, so a crash cannot split the write from its key. Use cases commit
their own units of work, and the answer exists only after the view has serialised
it, so the key cannot be written inside the use case's transaction. Instead the
whole keyed request runs in one database transaction (service.db.idempotency): the
key is looked up and held first, each unit of work the request opens is a savepoint
inside it, and the answer is stored and everything committed as the response
leaves. A crash or a 5xx at any point before that commit leaves neither the write
nor the key; after it, both. There is no "in flight" row to recover after a crash.

Retries while the first is still running: on PostgreSQL the key is held by a
transaction-scoped advisory lock, taken without waiting; a second request with the
key gets 409 with `Retry-After` (the draft's "still being processed"). On SQLite the
request takes the database's write lock at once, so the retry waits for the first to
finish and then replays its answer.

What is replayed: 2xx answers, and the 4xx that judge the request itself (400, 403,
404, 405, 410, 413, 415, 422). Not kept, so the retry is served afresh: 401 (no
caller to scope the key to), 408, 409 (a conflict with the record's current state or
with another request, which may have passed), 412, 425 and 429, and every 5xx (its
transaction is rolled back). The same key with another request is 409 (the draft
says 422; the mobile contract asks for 409).

Keys expire after `MEDTRACK_IDEMPOTENCY_TTL_HOURS` (24 at least). A caller's expired
keys are deleted when they next send a keyed request, in a short transaction of their
own before the request's: these rows are replay records, not clinical data, and hold
no history that the audit trail does not (the write they answered is audited).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.db.uow import UnitOfWork
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, NotFound, ValidationFailed

HEADER = "Idempotency-Key"
FIELD = f"header.{HEADER}"
MAX_KEY_LENGTH = 255
# Headers of the first answer that a replay carries again.
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
REPLAYED_STATUSES = frozenset({400, 403, 404, 405, 410, 413, 415, 422})
RETRY_AFTER_SECONDS = 1


class KeyStore(Protocol):
    """The keys of the request's own transaction (service.db.idempotency)."""

    def try_lock(self, *, user_id: uuid.UUID, operation: str, key: str) -> bool: ...

    def find(self, *, user_id: uuid.UUID, operation: str, key: str) -> dict[str, Any] | None: ...

    def add(self, values: dict[str, Any]) -> None: ...


class KeyInFlight(Conflict):
    """The first request with this key has not answered yet."""

    def __init__(self, message: str) -> None:
        super().__init__(message, errors={FIELD: [message]})
        self.retry_after = RETRY_AFTER_SECONDS


@dataclass(frozen=True, kw_only=True)
class Scope:
    """One keyed request: whose key, for which operation, and what was asked."""

    user_id: uuid.UUID
    operation: str
    key: str
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def parse_key(raw: str) -> str:
    """The key of the header: an RFC 8941 string (`"..."`), or the same text bare,
    as many clients send it; 1 to 255 printable ASCII characters."""
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    problem = None
    if not key:
        problem = "Send a non-empty key."
    elif len(key) > MAX_KEY_LENGTH:
        problem = f"Send at most {MAX_KEY_LENGTH} characters."
    elif not all(" " <= ch <= "~" for ch in key):
        problem = "Send printable ASCII characters only (a UUID is a good key)."
    if problem:
        raise ValidationFailed(f"The {HEADER} header is not valid.", errors={FIELD: [problem]})
    return key


def fingerprint(*, secret_key: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same: the path (with its ids), the query and the
    body (as canonical JSON when it is JSON, so spacing and key order do not count).
    Keyed with a key derived from the secret key: a body can carry a password or a
    one-time code, and a plain digest in the table would let anyone who reads it test
    guesses offline."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except ValueError:
        canonical = body
    key = hashlib.sha256(b"medtrack idempotency fingerprint\n" + secret_key.encode()).digest()
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in (path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def recheck(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID | None = None,
    dose_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
) -> None:
    """A retry is answered from its key only while the caller may still read the
    patient the first request named (by the URL's patient, dose or plan): a clinician
    taken off the care team gets the 404 anyone else gets, audited as a refusal. A
    replay the caller may have is audited as a read of that patient's record, since it
    hands their data out again. A request that names no patient (the caller's own
    devices or invitations, staff accounts, an enrolment) needs only the caller, whom
    the key is scoped to."""
    with uow:
        target = patient_id
        if target is None and dose_id is not None:
            event = uow.doses.event(dose_id)
            if event is None:
                raise NotFound(f"No dose {dose_id}.")
            target = event.patient_id
        if target is None and plan_id is not None:
            plan = uow.tapers.get(plan_id)
            if plan is None:
                raise NotFound(f"No taper plan {plan_id}.")
            target = plan.patient_id
        if target is None:
            return
        load_readable_patient(uow, caller=caller, patient_id=target)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="idempotency.replay",
            entity_type="Patient",
            patient_id=target,
        )


class Sealer:
    """AES-GCM under a key derived from the secret key, bound to the key's scope, so
    a stored answer can neither be read from the table nor moved to another key."""

    def __init__(self, secret_key: str) -> None:
        derived = hashlib.sha256(b"medtrack idempotency\n" + secret_key.encode()).digest()
        self._aead = AESGCM(derived)

    @staticmethod
    def _bound(scope: Scope) -> bytes:
        return f"{scope.user_id}\n{scope.operation}\n{scope.key}".encode()

    def seal(self, scope: Scope, body: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, body, self._bound(scope))

    def open(self, scope: Scope, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], self._bound(scope))


def replayable(status: int) -> bool:
    return 200 <= status < 300 or status in REPLAYED_STATUSES


def expired_before(now: dt.datetime, ttl: dt.timedelta) -> dt.datetime:
    """Keys recorded before this instant have expired (deleted before the lookup)."""
    return now - ttl


def begin(store: KeyStore, *, scope: Scope, sealer: Sealer) -> Answer | None:
    """The first answer to replay, or None: go on and answer (then `finish`). Raises
    KeyInFlight while another request holds the key, Conflict for another request."""
    if not store.try_lock(user_id=scope.user_id, operation=scope.operation, key=scope.key):
        raise KeyInFlight(
            f"A request with this {HEADER} is still being answered; retry in a moment."
        )
    found = store.find(user_id=scope.user_id, operation=scope.operation, key=scope.key)
    if found is None:
        return None
    if found["fingerprint"] != scope.fingerprint:
        message = (
            f"This {HEADER} was used for a different request; send a new key for a new request."
        )
        raise Conflict(message, errors={FIELD: [message]})
    try:
        body = sealer.open(scope, bytes(found["body"]))
    except Exception as exc:  # the secret key changed since: the answer cannot be read
        message = f"The first answer to this {HEADER} can no longer be read."
        raise Conflict(message, errors={FIELD: [message]}) from exc
    return Answer(status=int(found["status"]), headers=dict(found["headers"]), body=body)


def finish(
    store: KeyStore, *, scope: Scope, answer: Answer, now: dt.datetime, sealer: Sealer
) -> bool:
    """Keep the answer for the key's retries, if it is one to replay."""
    if not replayable(answer.status):
        return False
    store.add(
        {
            "user_id": scope.user_id,
            "operation": scope.operation,
            "key": scope.key,
            "fingerprint": scope.fingerprint,
            "status": answer.status,
            "headers": {k: v for k, v in answer.headers.items() if k in KEPT_HEADERS},
            "body": sealer.seal(scope, answer.body),
            "created_at": now,
        }
    )
    return True
