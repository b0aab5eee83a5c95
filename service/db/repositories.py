"""Repositories: queries over one session. They never commit.

The accounts' repositories (users, patients and their care teams, bearer tokens)
live here; the others live in the module of their concern. `PrescriptionRepository`
(service.db.prescriptions) is importable from here too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, func, inspect, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from service.db.engine import begin_writing
from service.db.paging import count_rows
from service.db.prescriptions import PrescriptionRepository
from service.db.tables import AuthToken, CareTeamMember, Enrolment, Patient, User
from service.domain.pages import Page

# Statements that run on every request, built once: building one anew, and working
# out its cache key, was a noticeable share of a request's CPU.
_PATIENT_TIMEZONE = core_select(col(Patient.timezone)).where(
    col(Patient.id) == bindparam("patient_id")
)
_TOKEN_HOLDER = (
    core_select(
        col(AuthToken.user_id),
        col(AuthToken.patient_id),
        col(AuthToken.revoked_at),
        col(User.role),
        col(User.is_active),
        col(AuthToken.expires_at),
        col(AuthToken.generation),
        col(User.token_generation),
    )
    .join(User, col(User.id) == col(AuthToken.user_id))
    .where(col(AuthToken.jti) == bindparam("jti"))
)

__all__ = [
    "PatientRepository",
    "PrescriptionRepository",
    "TokenHolder",
    "TokenRepository",
    "UserRepository",
    "ping",
    "schema_revisions",
]


class UserRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, user: User) -> User:
        self._s.add(user)
        self._s.flush()
        return user

    def get(self, user_id: uuid.UUID) -> User | None:
        return self._s.get(User, user_id)

    def by_email(self, email: str) -> User | None:
        return self._s.exec(select(User).where(User.email == email.lower())).first()

    def list_by_role(self, *, roles: Sequence[str], limit: int, offset: int) -> Page[User]:
        query = (
            select(User)
            .where(col(User.role).in_(roles))
            .order_by(col(User.created_at), col(User.id))
        )
        rows = list(self._s.exec(query.limit(limit).offset(offset)))
        return Page(rows, total=count_rows(self._s, query))


class PatientRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, patient: Patient) -> Patient:
        self._s.add(patient)
        self._s.flush()
        return patient

    def get(self, patient_id: uuid.UUID) -> Patient | None:
        return self._s.get(Patient, patient_id)

    def timezone(self, patient_id: uuid.UUID) -> str | None:
        """The patient's IANA zone, None if there is no such patient: one column,
        without loading the whole record (the app's home screen, every request)."""
        found = self._s.connection().execute(_PATIENT_TIMEZONE, {"patient_id": patient_id})
        return found.scalar_one_or_none()

    def notification_settings(
        self, patient_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[str, str]]:
        """(locale, notification_privacy) of each patient, for writing notifications."""
        if not patient_ids:
            return {}
        rows = self._s.connection().execute(
            core_select(
                col(Patient.id), col(Patient.locale), col(Patient.notification_privacy)
            ).where(col(Patient.id).in_(list(patient_ids)))
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def lock(self, patient_id: uuid.UUID) -> None:
        """Serialise care-team changes for one patient."""
        begin_writing(self._s)
        self._s.exec(select(Patient.id).where(Patient.id == patient_id).with_for_update()).first()

    def by_user(self, user_id: uuid.UUID) -> Patient | None:
        return self._s.exec(select(Patient).where(Patient.user_id == user_id)).first()

    def claim_activation(self, code_hash: str, *, now: dt.datetime) -> Patient | None:
        """Use up an unexpired activation code; None if it is unknown, expired or used.

        One conditional UPDATE, so that of two parallel claims exactly one wins on
        every engine (SQLite reads outside transactions; FOR UPDATE is a no-op there).
        """
        claimed = self._s.execute(
            update(Patient)
            .where(
                col(Patient.activation_code_hash) == code_hash,
                col(Patient.activation_expires_at) > now,
            )
            .values(activation_code_hash=None, activation_expires_at=None, activated_at=now)
            .returning(col(Patient.id))
        ).first()
        if claimed is None:
            return None
        patient = self._s.get(Patient, claimed[0], populate_existing=True)
        return patient

    def list_page(
        self,
        *,
        clinician_id: uuid.UUID | None,
        limit: int,
        offset: int,
        search: str | None = None,
    ) -> Page[tuple[Patient, User]]:
        """Patients by name: all of them, or those on `clinician_id`'s care team; with
        `search` (lower case), only those whose name or e-mail contains it."""
        query = select(Patient, User).join(User, col(User.id) == col(Patient.user_id))
        if search:
            query = query.where(
                or_(
                    func.lower(col(User.name)).contains(search, autoescape=True),
                    func.lower(col(User.email)).contains(search, autoescape=True),
                )
            )
        if clinician_id is not None:
            query = query.join(
                CareTeamMember, col(CareTeamMember.patient_id) == col(Patient.id)
            ).where(
                CareTeamMember.clinician_id == clinician_id,
                col(CareTeamMember.removed_at).is_(None),
            )
        query = query.order_by(col(User.name), col(Patient.id))
        rows = [(p, u) for p, u in self._s.exec(query.limit(limit).offset(offset))]
        return Page(rows, total=count_rows(self._s, query))

    def care_teams(self, patient_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        """The active clinicians of several patients, in one query."""
        teams: dict[uuid.UUID, list[uuid.UUID]] = {pid: [] for pid in patient_ids}
        if not patient_ids:
            return teams
        query = (
            select(CareTeamMember.patient_id, CareTeamMember.clinician_id)
            .where(
                col(CareTeamMember.patient_id).in_(patient_ids),
                col(CareTeamMember.removed_at).is_(None),
            )
            .order_by(col(CareTeamMember.added_at), col(CareTeamMember.id))
        )
        for patient_id, clinician_id in self._s.exec(query):
            teams[patient_id].append(clinician_id)
        return teams

    def care_team(self, patient_id: uuid.UUID) -> list[CareTeamMember]:
        query = (
            select(CareTeamMember)
            .where(
                CareTeamMember.patient_id == patient_id,
                col(CareTeamMember.removed_at).is_(None),
            )
            .order_by(col(CareTeamMember.added_at), col(CareTeamMember.id))
        )
        return list(self._s.exec(query))

    def add_member(self, member: CareTeamMember) -> CareTeamMember:
        self._s.add(member)
        self._s.flush()
        return member

    def add_enrolment(self, enrolment: Enrolment) -> Enrolment:
        self._s.add(enrolment)
        self._s.flush()
        return enrolment

    def enrolment_of(self, patient_id: uuid.UUID) -> Enrolment | None:
        """The enrolment that created a new account's record, if one did."""
        query = select(Enrolment).where(
            Enrolment.patient_id == patient_id, col(Enrolment.invited_user_id).is_(None)
        )
        return self._s.exec(query).first()

    def invitation(self, code_hash: str, *, lock: bool = False) -> Enrolment | None:
        """The open invitation to an existing account with this code, if any."""
        query = select(Enrolment).where(
            Enrolment.code_hash == code_hash, col(Enrolment.accepted_at).is_(None)
        )
        if lock:
            begin_writing(self._s)
            query = query.with_for_update()
        return self._s.exec(query).first()

    def enrolments(self, clinician_id: uuid.UUID, *, limit: int, offset: int) -> Page[Enrolment]:
        query = (
            select(Enrolment)
            .where(Enrolment.clinician_id == clinician_id)
            .order_by(col(Enrolment.created_at).desc(), col(Enrolment.id))
        )
        rows = list(self._s.exec(query.limit(limit).offset(offset)))
        return Page(rows, total=count_rows(self._s, query))


@dataclass(frozen=True, kw_only=True)
class TokenHolder:
    """What checking a bearer token needs of its row and of the user it was issued to."""

    user_id: uuid.UUID
    patient_id: uuid.UUID | None
    revoked_at: dt.datetime | None
    role: str
    is_active: bool
    expires_at: dt.datetime
    # The generation the token was issued in, and the user's current one.
    generation: int
    user_generation: int


class TokenRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, token: AuthToken) -> None:
        self._s.add(token)
        self._s.flush()

    def get(self, jti: str) -> AuthToken | None:
        return self._s.get(AuthToken, jti)

    def holder(self, jti: str) -> TokenHolder | None:
        """The token's row joined to its user's, in one statement (every request)."""
        row = self._s.connection().execute(_TOKEN_HOLDER, {"jti": jti}).first()
        if row is None:
            return None
        return TokenHolder(
            user_id=row[0],
            patient_id=row[1],
            revoked_at=row[2],
            role=row[3],
            is_active=row[4],
            expires_at=row[5],
            generation=row[6],
            user_generation=row[7],
        )


def ping(session: Session) -> bool:
    """One round trip to the database; used by the health check."""
    return session.exec(select(1)).one() == 1


def schema_revisions(session: Session) -> frozenset[str]:
    """The migration revisions the database is at (empty before the first upgrade)."""
    connection = session.connection()
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
    return frozenset(str(r[0]) for r in rows)
