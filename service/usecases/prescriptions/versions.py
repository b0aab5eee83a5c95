"""A prescription's versions: finding it for a change, checking the change was made
from its current version, and storing the next version with its audit entry."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from service.db.tables import Prescription, PrescriptionVersion
from service.db.uow import UnitOfWork
from service.domain.prescriptions import PrescriptionTerms, ScreeningScope, Status, resume_date
from service.usecases.context import Caller
from service.usecases.errors import NotFound, PreconditionFailed
from service.usecases.ports import PrescriptionReading
from service.usecases.prescriptions.views import PrescriptionRecord, prescription_record
from service.usecases.versioning import VersionAudit, store_next_version


@dataclass(frozen=True, kw_only=True)
class VersionFacts:
    """What a version records beside its terms: carried from version to version
    (name, screening), or said of this change only (abrupt-stop reason, resume date)."""

    drug_name: str | None = None
    screening: str = ScreeningScope.FULL.value
    unlisted_reason: str | None = None
    abrupt_stop_reason: str | None = None
    resume_on: dt.date | None = None

    @classmethod
    def carried_from(cls, v: PrescriptionVersion) -> VersionFacts:
        return cls(drug_name=v.drug_name, screening=v.screening, unlisted_reason=v.unlisted_reason)


@dataclass(frozen=True, kw_only=True)
class VersionChange:
    """What a new version states: its terms and status, the change that made it and
    why, who made it, and the facts it records beside the terms."""

    terms: PrescriptionTerms
    status: Status
    change: str
    reason: str | None
    by: uuid.UUID
    now: dt.datetime
    facts: VersionFacts


def version_row(
    rx_id: uuid.UUID,
    number: int,
    *,
    drug_id: str | None,
    ingredients: Sequence[str] | None,
    what: VersionChange,
) -> PrescriptionVersion:
    """Version `number` of prescription `rx_id`, as stored."""
    terms, facts = what.terms, what.facts
    return PrescriptionVersion(
        prescription_id=rx_id,
        version=number,
        drug=terms.drug,
        drug_id=drug_id,
        ingredients=list(ingredients) if ingredients is not None else None,
        dose_amount=terms.dose.amount,
        dose_unit=terms.dose.unit,
        route=terms.route,
        schedule=terms.schedule.to_json(),
        start_date=terms.start_date,
        end_date=terms.end_date,
        instructions=terms.instructions,
        status=what.status.value,
        change=what.change,
        reason=what.reason,
        abrupt_stop_reason=facts.abrupt_stop_reason,
        resume_on=facts.resume_on,
        drug_name=facts.drug_name,
        screening=facts.screening,
        unlisted_reason=facts.unlisted_reason,
        created_by=what.by,
        created_at=what.now,
    )


def load_prescription(
    uow: PrescriptionReading, patient_id: uuid.UUID, rx_id: uuid.UUID, *, lock: bool = False
) -> Prescription:
    rx = uow.prescriptions.get(patient_id=patient_id, rx_id=rx_id, for_update=lock)
    if rx is None:
        raise NotFound(f"No prescription {rx_id} for this patient.")
    return rx


def check_version(rx: Prescription, allowed: frozenset[int] | None) -> None:
    """Under the prescription's row lock, so two edits from one version cannot both pass."""
    if allowed is not None and rx.current_version not in allowed:
        raise PreconditionFailed(
            f"The prescription is at version {rx.current_version}, not the version this "
            "change was based on; read it again and reapply the change.",
            current_version=rx.current_version,
        )


def append_version(
    uow: UnitOfWork,
    *,
    caller: Caller,
    now: dt.datetime,
    rx: Prescription,
    current: PrescriptionVersion,
    terms: PrescriptionTerms,
    status: Status,
    change: str,
    reason: str | None,
    on_behalf_of: uuid.UUID | None = None,
    abrupt_stop_reason: str | None = None,
    resume_on: dt.date | None = None,
) -> PrescriptionRecord:
    """Store `terms` and `status` as the prescription's next version and audit it.
    The author is the caller, or `on_behalf_of` for the scheduler (the clinician
    whose approval it carries out)."""
    by = on_behalf_of or caller.require().user_id
    facts = replace(
        VersionFacts.carried_from(current),
        abrupt_stop_reason=abrupt_stop_reason,
        resume_on=resume_date(status, given=resume_on, current=current.resume_on),
    )
    what = VersionChange(
        terms=terms, status=status, change=change, reason=reason, by=by, now=now, facts=facts
    )
    version = store_next_version(
        uow,
        caller=caller,
        now=now,
        head=rx,
        status=status,
        build=lambda number: version_row(
            rx.id, number, drug_id=current.drug_id, ingredients=current.ingredients, what=what
        ),
        store=uow.prescriptions,
        audit=VersionAudit(
            entity_type="Prescription",
            subtype=f"prescription.{change}",
            before=prescription_record(rx, current),
            after=lambda v: prescription_record(rx, v),
            actor_id=on_behalf_of,
        ),
    )
    return record_of(uow, rx, version)


def record_of(
    uow: PrescriptionReading, rx: Prescription, v: PrescriptionVersion
) -> PrescriptionRecord:
    """Version `v` of `rx`, with the findings stored with the prescription and its
    taper plan in progress, if any."""
    return prescription_record(
        rx,
        v,
        uow.prescriptions.findings([rx.id])[rx.id],
        taper_plan_id=uow.tapers.open_plan_ids([rx.id]).get(rx.id),
    )
