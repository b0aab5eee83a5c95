"""Versioned records (prescriptions, taper plans) are never edited in place: a change
is stored as the next version, the record's head row moves to it, and the audit
trail says who changed what from what. This module is that one step, for either."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.usecases.audit import record
from service.usecases.context import Caller


class Head(Protocol):
    """The row that names a record's current version and status."""

    id: uuid.UUID
    patient_id: uuid.UUID
    status: str
    current_version: int
    updated_at: dt.datetime


H = TypeVar("H", bound=Head)
H_contra = TypeVar("H_contra", bound=Head, contravariant=True)
V = TypeVar("V")
V_contra = TypeVar("V_contra", contravariant=True)


class VersionStore(Protocol[H_contra, V_contra]):
    """The repository that writes a head and its new version together."""

    def add_version(self, head: H_contra, version: V_contra, /) -> None: ...


@dataclass(frozen=True, kw_only=True)
class VersionAudit(Generic[V]):
    """How the change reads in the audit trail: `before` is taken before the head
    moves, `after` from the stored version; `actor_id` names the clinician a
    scheduler's change is made for."""

    entity_type: str
    subtype: str
    before: object
    after: Callable[[V], object]
    actor_id: uuid.UUID | None = None


def store_next_version(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    head: H,
    status: str,
    build: Callable[[int], V],
    store: VersionStore[H, V],
    audit: VersionAudit[V],
) -> V:
    """Move `head` to its next version number and `status`, store the version `build`
    makes for that number, and audit the change, all in the caller's transaction."""
    head.current_version += 1
    # The column holds the plain value, whether `status` is a str or a StrEnum member.
    head.status = str(status)
    head.updated_at = now
    version = build(head.current_version)
    store.add_version(head, version)
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE,
        subtype=audit.subtype,
        entity_type=audit.entity_type,
        entity_id=head.id,
        patient_id=head.patient_id,
        before=audit.before,
        after=audit.after(version),
        actor_id=audit.actor_id,
    )
    return version
