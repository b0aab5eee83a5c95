"""What every part of the record shares: an audited read for whoever may see the
record, and an audit entry for each change."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.usecases.access import load_readable_patient
from service.usecases.audit import record, record_read
from service.usecases.context import Caller, Clock

T = TypeVar("T")


def read_part(
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    patient_id: uuid.UUID,
    subtype: str,
    entity_type: str,
    load: Callable[[UnitOfWork], list[T]],
) -> list[T]:
    """The rows of one part of the record, for whoever may read it; the read is audited."""
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rows = load(uow)
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype=subtype,
            entity_type=entity_type,
            patient_id=patient_id,
        )
        return rows


def audit_change(
    uow: UnitOfWork,
    caller: Caller,
    now: dt.datetime,
    *,
    subtype: str,
    entity: str,
    entity_id: uuid.UUID,
    patient_id: uuid.UUID,
    before: Any = None,
    after: Any = None,
) -> None:
    """An entry that creates the part, or with `before`, one that changes it."""
    record(
        uow,
        caller=caller,
        now=now,
        action=AuditAction.UPDATE if before is not None else AuditAction.CREATE,
        subtype=subtype,
        entity_type=entity,
        entity_id=entity_id,
        patient_id=patient_id,
        before=before,
        after=after,
    )
