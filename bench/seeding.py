"""Bulk seeding for the benchmarks and the fault tests: users, patients, care teams,
access tokens, devices and active prescriptions, written with core inserts in a single
transaction, as the product would have stored them (far faster than its use cases for
tens of thousands of rows, and none of this is what is measured or tested). Columns
left out are NULL.

`Seed` collects the rows and writes them in foreign-key order; `random_regimen` draws
a prescription's drug, daily times and amount from a seeded random generator, so a
benchmark's data is the same on every run and engine.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table

from service.db.tables import (
    AuthToken,
    CareTeamMember,
    Device,
    Patient,
    Prescription,
    PrescriptionVersion,
    User,
)
from service.db.uow import Database
from service.domain.accounts import Role
from service.domain.catalog import Drug
from service.domain.prescriptions import Change, Schedule, Status
from service.usecases.security import secret_digest

# The benchmarks' reproducible data: this seed for their random draws, and this fixed
# clock: a weekday in February, when none of their zones changes its offset within two
# days (bench/materialise.py checks its own), and 30 s past a minute, so no dose (all
# on whole minutes) sits on a window's edge.
SEED = 42
T0 = dt.datetime(2025, 2, 12, 12, 0, 30, tzinfo=dt.UTC)
# The benchmarks' patients live in these zones, in turn.
ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
    "UTC",
)
# Wall-clock times for a schedule of 1..4 doses a day.
SLOTS: dict[int, tuple[tuple[str, ...], ...]] = {
    1: (("08:00",), ("21:00",), ("09:30",)),
    2: (("08:00", "20:00"), ("07:30", "19:30"), ("09:00", "21:00")),
    3: (("08:00", "14:00", "20:00"), ("07:00", "13:00", "19:00")),
    4: (("07:00", "12:00", "17:00", "22:00"), ("06:00", "12:00", "18:00", "23:45")),
}
DOSES_PER_DAY = (1, 1, 2, 2, 2, 3, 4)
PRESCRIPTIONS_PER_PATIENT = (1, 2, 2, 3, 4)
AMOUNTS = ("0.5", "2", "5", "10", "20", "50", "250")

_USERS: Table = User.__table__  # type: ignore[attr-defined]
_PATIENTS: Table = Patient.__table__  # type: ignore[attr-defined]
_TEAM: Table = CareTeamMember.__table__  # type: ignore[attr-defined]
_TOKENS: Table = AuthToken.__table__  # type: ignore[attr-defined]
_DEVICES: Table = Device.__table__  # type: ignore[attr-defined]
_RX: Table = Prescription.__table__  # type: ignore[attr-defined]
_VERSIONS: Table = PrescriptionVersion.__table__  # type: ignore[attr-defined]
# Foreign-key order.
_TABLES = (_USERS, _PATIENTS, _TEAM, _TOKENS, _DEVICES, _RX, _VERSIONS)
_CHUNK = 5000


def fixed_clock() -> dt.datetime:
    """The clock the benchmarks hand the product's use cases: always T0."""
    return T0


@dataclass(frozen=True)
class Regimen:
    """What one prescription's terms say: the drug, its daily times and the amount."""

    drug_id: str
    drug_name: str
    times: tuple[dt.time, ...]
    amount: Decimal


def random_regimen(
    rng: random.Random, drugs: Sequence[Drug], *, drug: Drug | None = None, most: int = 4
) -> Regimen:
    """1-4 doses a day (at most `most`) at one of SLOTS' sets of times, of a drug drawn
    from `drugs` unless one is given, at one of AMOUNTS. The draws come in that order,
    which the benchmarks' reproducible data depends on."""
    k = min(rng.choice(DOSES_PER_DAY), most)
    times = tuple(dt.time.fromisoformat(t) for t in rng.choice(SLOTS[k]))
    chosen = drug if drug is not None else rng.choice(drugs)
    return Regimen(chosen.id, chosen.name, times, Decimal(rng.choice(AMOUNTS)))


class Seed:
    """Rows to bulk-insert, all written at `at`; `write` inserts them. Names and email
    addresses carry `label` and a number, so a seeded database is easy to recognise."""

    def __init__(self, *, at: dt.datetime, label: str = "bench") -> None:
        self.at = at
        self.label = label
        self.rows: dict[Table, list[dict[str, Any]]] = {table: [] for table in _TABLES}

    @property
    def users(self) -> int:
        return len(self.rows[_USERS])

    @property
    def patients(self) -> int:
        return len(self.rows[_PATIENTS])

    @property
    def devices(self) -> int:
        return len(self.rows[_DEVICES])

    @property
    def prescriptions(self) -> int:
        return len(self.rows[_RX])

    def user(self, role: Role) -> uuid.UUID:
        user_id = uuid.uuid4()
        name = f"{self.label}-{role}-{self.users}"
        self.rows[_USERS].append(
            {
                "id": user_id,
                "email": f"{name}-{user_id.hex[:8]}@example.test",
                "name": name,
                "role": role,
                "is_active": True,
                "created_at": self.at,
            }
        )
        return user_id

    def patient(self, zone: str, *, clinician: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
        """An activated patient in `zone`, created by `clinician`; (user id, patient id)."""
        i = self.patients
        user_id, patient_id = self.user(Role.PATIENT), uuid.uuid4()
        self.rows[_PATIENTS].append(
            {
                "id": patient_id,
                "user_id": user_id,
                "date_of_birth": dt.date(1940 + i % 60, 1 + i % 12, 1 + i % 28),
                "timezone": zone,
                "allergies": [],
                "pregnant": False,
                "activated_at": self.at,
                "created_by": clinician,
                "created_at": self.at,
            }
        )
        return user_id, patient_id

    def care_team(self, patient_id: uuid.UUID, clinician: uuid.UUID) -> None:
        self.rows[_TEAM].append(
            {
                "id": uuid.uuid4(),
                "patient_id": patient_id,
                "clinician_id": clinician,
                "added_by": clinician,
                "added_at": self.at,
            }
        )

    def token(
        self,
        *,
        jti: str,
        user_id: uuid.UUID,
        patient_id: uuid.UUID,
        issued_at: dt.datetime,
        expires_at: dt.datetime,
    ) -> None:
        """The record `POST /v1/auth/token` keeps of a token it issued: the digest of
        its `jti`, not the id itself."""
        self.rows[_TOKENS].append(
            {
                "jti": secret_digest(jti),
                "user_id": user_id,
                "patient_id": patient_id,
                "issued_at": issued_at,
                "expires_at": expires_at,
            }
        )

    def device(self, user_id: uuid.UUID, token: str) -> None:
        """An FCM device (a token, no endpoint)."""
        self.rows[_DEVICES].append(
            {
                "id": uuid.uuid4(),
                "user_id": user_id,
                "platform": "fcm",
                "token": token,
                "keys": {},
                "created_at": self.at,
            }
        )

    def prescription(
        self,
        patient_id: uuid.UUID,
        regimen: Regimen,
        *,
        clinician: uuid.UUID,
        start: dt.date,
    ) -> uuid.UUID:
        """An active prescription at its first version, never planned; its id."""
        rx_id = uuid.uuid4()
        self.rows[_RX].append(
            {
                "id": rx_id,
                "patient_id": patient_id,
                "current_version": 1,
                "status": Status.ACTIVE,
                "created_by": clinician,
                "created_at": self.at,
                "updated_at": self.at,
            }
        )
        self.rows[_VERSIONS].append(
            {
                "id": uuid.uuid4(),
                "prescription_id": rx_id,
                "version": 1,
                "drug": regimen.drug_name,
                "drug_id": regimen.drug_id,
                "ingredients": [regimen.drug_id],
                "dose_amount": regimen.amount,
                "dose_unit": "mg",
                "route": "oral",
                "schedule": Schedule(times=regimen.times).to_json(),
                "start_date": start,
                "status": Status.ACTIVE,
                "change": Change.CREATE,
                "created_by": clinician,
                "created_at": self.at,
            }
        )
        return rx_id

    def write(self, database: Database) -> None:
        """Every row, in one transaction."""
        with database.engine.begin() as conn:
            for table in _TABLES:
                rows = self.rows[table]
                for start in range(0, len(rows), _CHUNK):
                    conn.execute(table.insert(), rows[start : start + _CHUNK])
