"""Demo data: an admin, a clinician and two patients, created through the use cases.

Idempotent: accounts that already exist are left as they are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from service import knowledge
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role
from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule
from service.usecases import auth, patients, prescriptions, users
from service.usecases.auth import LoginPolicy
from service.usecases.context import SYSTEM, Caller, Clock
from service.usecases.security import Passwords

ADMIN = ("admin@demo.medtrack.test", "demo-admin-password", "Avery Admin")
CLINICIAN = ("dr.rivera@demo.medtrack.test", "demo-clinician-password", "Dr Morgan Rivera")
PATIENTS = (
    ("alex@demo.medtrack.test", "demo-patient-password", "Alex Kim", "America/New_York"),
    ("sam@demo.medtrack.test", "demo-patient-password", "Sam Okafor", "Europe/London"),
)


@dataclass(frozen=True)
class Credential:
    role: str
    email: str
    password: str
    created: bool


def _regimen(start: dt.date) -> list[PrescriptionTerms]:
    """Escitalopram 10 mg every morning; diazepam 5 mg twice a day."""
    return [
        PrescriptionTerms(
            drug="escitalopram",
            dose=Dose(amount=Decimal(10), unit="mg"),
            route="oral",
            schedule=Schedule(times=(dt.time(8, 0),)),
            start_date=start,
            instructions="Take in the morning.",
        ),
        PrescriptionTerms(
            drug="diazepam",
            dose=Dose(amount=Decimal(5), unit="mg"),
            route="oral",
            schedule=Schedule(times=(dt.time(8, 0), dt.time(20, 0))),
            start_date=start,
            instructions="Do not stop suddenly; your clinician will plan any reduction.",
        ),
    ]


def seed(
    *,
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    passwords: Passwords,
    policy: LoginPolicy,
) -> list[Credential]:
    """Every demo account, created unless it exists; the first patient also gets the
    regimen, prescribed by the demo clinician."""
    out = [
        _staff(uow, clock, passwords, role=role, account=account)
        for role, account in ((Role.ADMIN, ADMIN), (Role.CLINICIAN, CLINICIAN))
    ]
    with uow() as u:
        doc = u.users.by_email(CLINICIAN[0])
        assert doc is not None
    as_doc = Caller(principal=Principal(user_id=doc.id, role=Role.CLINICIAN), agent="demo")
    for index, (email, password, name, tz) in enumerate(PATIENTS):
        with uow() as u:
            exists = u.users.by_email(email)
        if exists is None:
            rec = patients.create_patient(
                uow=uow(),
                caller=as_doc,
                clock=clock,
                activation_ttl=dt.timedelta(hours=1),
                name=name,
                email=email,
                timezone=tz,
                date_of_birth=dt.date(1984 + index, 3, 14),
            )
            assert rec.activation_code is not None
            me = auth.activate(
                uow=uow(),
                caller=SYSTEM,
                clock=clock,
                passwords=passwords,
                policy=policy,
                activation_code=rec.activation_code,
                password=password,
            )
            assert me.patient_id is not None
            if index == 0:
                _prescribe_regimen(uow, clock, as_doc=as_doc, patient_id=me.patient_id)
        out.append(Credential(Role.PATIENT.value, email, password, exists is None))
    return out


def _staff(
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    passwords: Passwords,
    *,
    role: Role,
    account: tuple[str, str, str],
) -> Credential:
    email, password, name = account
    with uow() as u:
        exists = u.users.by_email(email)
    if exists is None:
        users.create_staff_user(
            uow=uow(),
            caller=SYSTEM,
            clock=clock,
            passwords=passwords,
            role=role,
            email=email,
            password=password,
            name=name,
        )
    return Credential(role.value, email, password, exists is None)


def _prescribe_regimen(
    uow: Callable[[], UnitOfWork], clock: Clock, *, as_doc: Caller, patient_id: uuid.UUID
) -> None:
    for terms in _regimen(clock().date()):
        prescriptions.create_prescription(
            uow=uow(),
            caller=as_doc,
            clock=clock,
            kb=knowledge.load(),
            patient_id=patient_id,
            terms=terms,
        )
