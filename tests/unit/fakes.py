"""An in-memory unit of work for use-case tests without a database.

It keeps rows in dictionaries and behaves as the real one does where use cases can
tell: audit entries queued in a transaction are kept only when it commits, and the
`with` block rolls back what was not committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any, Self

from service.db.tables import (
    CareTeamMember,
    Patient,
    Prescription,
    PrescriptionFinding,
    PrescriptionVersion,
    User,
)
from service.domain.pages import Page, sliced


class FakeAuditLog:
    def __init__(self) -> None:
        self.committed: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []

    def insert(self, values: dict[str, Any]) -> None:
        self.pending.append(values)


class FakePatients:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Patient] = {}
        self.members: list[CareTeamMember] = []
        # The patients whose care team a transaction locked, ever.
        self.locked: set[uuid.UUID] = set()
        self._saved: list[tuple[CareTeamMember, Any, Any]] = []

    def begin(self) -> None:
        self._saved = [(m, m.removed_at, m.removed_by) for m in self.members]

    def roll_back(self) -> None:
        """Memberships as they were when the transaction began (a membership is only
        ever added or ended)."""
        for member, removed_at, removed_by in self._saved:
            member.removed_at, member.removed_by = removed_at, removed_by
        self.members = [m for m, _, _ in self._saved]

    def keep(self) -> None:
        self.begin()

    def get(self, patient_id: uuid.UUID) -> Patient | None:
        return self.rows.get(patient_id)

    def lock(self, patient_id: uuid.UUID) -> None:
        self.locked.add(patient_id)

    def add_member(self, member: CareTeamMember) -> CareTeamMember:
        self.members.append(member)
        return member

    def care_team(self, patient_id: uuid.UUID) -> list[CareTeamMember]:
        return [m for m in self.members if m.patient_id == patient_id and m.removed_at is None]


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, User] = {}

    def get(self, user_id: uuid.UUID) -> User | None:
        return self.rows.get(user_id)


class FakePrescriptions:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Prescription] = {}
        self.versions_by_number: dict[tuple[uuid.UUID, int], PrescriptionVersion] = {}
        self.stored_findings: list[PrescriptionFinding] = []

    def get(
        self, *, patient_id: uuid.UUID, rx_id: uuid.UUID, for_update: bool = False
    ) -> Prescription | None:
        rx = self.rows.get(rx_id)
        return rx if rx is not None and rx.patient_id == patient_id else None

    def version(self, rx_id: uuid.UUID, number: int) -> PrescriptionVersion:
        return self.versions_by_number[(rx_id, number)]

    def versions(
        self, rx_id: uuid.UUID, *, limit: int | None = None, offset: int = 0
    ) -> Page[PrescriptionVersion]:
        mine = sorted(
            (v for (rx, _), v in self.versions_by_number.items() if rx == rx_id),
            key=lambda v: v.version,
        )
        return sliced(mine, limit=len(mine) if limit is None else limit, offset=offset)

    def list_current(
        self, *, patient_id: uuid.UUID, status: str | None, limit: int, offset: int
    ) -> Page[tuple[Prescription, PrescriptionVersion]]:
        mine = sorted(
            (rx for rx in self.rows.values() if rx.patient_id == patient_id),
            key=lambda rx: (rx.created_at, rx.id),
        )
        chosen = [rx for rx in mine if status is None or rx.status == status]
        return sliced(chosen, limit=limit, offset=offset).map(
            lambda rx: (rx, self.versions_by_number[(rx.id, rx.current_version)])
        )

    def findings(self, rx_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[PrescriptionFinding]]:
        return {
            rx_id: [f for f in self.stored_findings if f.prescription_id == rx_id]
            for rx_id in rx_ids
        }


class FakeTapers:
    """No taper plans: the in-memory tests read prescriptions, not plans."""

    def open_plan_ids(
        self, prescription_ids: Collection[uuid.UUID]
    ) -> Mapping[uuid.UUID, uuid.UUID]:
        return {}


class FakeUnitOfWork:
    """Provides `service.usecases.ports.PrescriptionReading` and `CareTeamChanges` in
    memory; what a transaction changed of the care teams is undone unless it commits."""

    def __init__(self) -> None:
        self.audit = FakeAuditLog()
        self.patients = FakePatients()
        self.users = FakeUsers()
        self.prescriptions = FakePrescriptions()
        self.tapers = FakeTapers()
        self.commits = 0

    def __enter__(self) -> Self:
        self.patients.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.audit.pending.clear()
        self.patients.roll_back()

    def commit(self) -> None:
        self.audit.committed += self.audit.pending
        self.audit.pending.clear()
        self.patients.keep()
        self.commits += 1
