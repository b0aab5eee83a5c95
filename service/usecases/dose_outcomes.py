"""A patient's dose log: the doses that have an outcome (taken, skipped or missed),
over any period, for a record that is read whole (an EHR's copy of the dose log)
rather than a window of the app's calendar (service/usecases/dose_list.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from service.db.uow import UnitOfWork
from service.domain.doses import DoseStatus
from service.domain.pages import Page
from service.usecases.access import load_readable_patient
from service.usecases.audit import record_read
from service.usecases.context import Caller, Clock
from service.usecases.dose_views import DoseView, dose_view, event_view
from service.usecases.errors import NotFound
from service.usecases.reminders import ReminderPolicy

# The statuses a dose of the log has (as shown: an open dose past its mark is missed).
OUTCOMES = (DoseStatus.TAKEN, DoseStatus.SKIPPED, DoseStatus.MISSED)


def list_dose_outcomes(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    policy: ReminderPolicy,
    patient_id: uuid.UUID,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page[DoseView]:
    """Doses taken, skipped or missed, by when they happened (a dose taken: when it
    was taken; otherwise when it was due) in [start, end), oldest first. A dose still
    open past the missed mark is shown missed, as in the dose list; planned doses are
    not outcomes and are left out. Readers as for the dose list; the read is audited."""
    now = clock()
    with uow:
        load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rows = uow.doses.outcomes(
            patient_id=patient_id,
            start=start,
            end=end,
            missed_before=now - policy.missed_after,
            limit=limit,
            offset=offset,
        )
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="dose.list",
            entity_type="DoseEvent",
            patient_id=patient_id,
        )
    return rows.map(lambda r: dose_view(r, now=now, policy=policy))


def read_dose_outcome(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    policy: ReminderPolicy,
    dose_id: uuid.UUID,
) -> tuple[uuid.UUID, DoseView]:
    """One dose of the log (taken, skipped or missed) and its patient. A dose that does
    not exist, that the caller may not read, or that has no outcome yet (planned,
    withdrawn) is not found, alike. The read is audited."""
    now = clock()
    with uow:
        event = uow.doses.event(dose_id)
        if event is None:
            raise NotFound(f"No dose {dose_id}.")
        try:
            load_readable_patient(uow, caller=caller, patient_id=event.patient_id)
        except NotFound:
            raise NotFound(f"No dose {dose_id}.") from None
        view = event_view(uow, event, now=now, policy=policy)
        if view.status not in OUTCOMES:
            raise NotFound(f"Dose {dose_id} has no outcome yet.")
        record_read(
            uow,
            caller=caller,
            clock=clock,
            subtype="dose.read",
            entity_type="DoseEvent",
            entity_id=dose_id,
            patient_id=event.patient_id,
        )
        return event.patient_id, view
