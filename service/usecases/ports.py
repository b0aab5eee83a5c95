"""What use cases need of their unit of work, as protocols.

`service.db.uow.UnitOfWork` provides all of it against a database; the test suite's
in-memory unit of work (`tests/unit/fakes.py`) provides the same, so the rules of a
use case (who may read what, what is audited, what is committed) are tested without
one. A use case asks for the narrowest protocol it needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from service.db.tables import (
    CareTeamMember,
    Patient,
    Prescription,
    PrescriptionFinding,
    PrescriptionVersion,
    User,
)
from service.domain.pages import Page


class Work(Protocol):
    """One transaction: rolled back when the `with` block ends unless committed."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class AuditLog(Protocol):
    def insert(self, values: dict[str, Any]) -> None: ...


class Patients(Protocol):
    def get(self, patient_id: uuid.UUID) -> Patient | None: ...

    def care_team(self, patient_id: uuid.UUID) -> list[CareTeamMember]: ...


class CareTeams(Patients, Protocol):
    def lock(self, patient_id: uuid.UUID) -> None: ...

    def add_member(self, member: CareTeamMember) -> CareTeamMember: ...


class Users(Protocol):
    def get(self, user_id: uuid.UUID) -> User | None: ...


class Prescriptions(Protocol):
    def get(
        self, *, patient_id: uuid.UUID, rx_id: uuid.UUID, for_update: bool = False
    ) -> Prescription | None: ...

    def version(self, rx_id: uuid.UUID, number: int) -> PrescriptionVersion: ...

    def versions(
        self, rx_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> Page[PrescriptionVersion]: ...

    def list_current(
        self, *, patient_id: uuid.UUID, status: str | None, limit: int, offset: int
    ) -> Page[tuple[Prescription, PrescriptionVersion]]: ...

    def findings(
        self, rx_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, Sequence[PrescriptionFinding]]: ...


class OpenPlans(Protocol):
    def open_plan_ids(
        self, prescription_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, uuid.UUID]: ...


class Audited(Work, Protocol):
    """A unit of work that keeps the audit trail."""

    @property
    def audit(self) -> AuditLog: ...


class PatientAccess(Audited, Protocol):
    """Enough to load a patient for a caller with the access rules applied."""

    @property
    def patients(self) -> Patients: ...

    @property
    def users(self) -> Users: ...


class CareTeamChanges(PatientAccess, Protocol):
    """Enough to change a patient's care team."""

    @property
    def patients(self) -> CareTeams: ...


class PrescriptionReading(PatientAccess, Protocol):
    """Enough to read a patient's prescriptions, each with its taper plan in progress."""

    @property
    def prescriptions(self) -> Prescriptions: ...

    @property
    def tapers(self) -> OpenPlans: ...
