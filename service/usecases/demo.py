"""Demo data: an admin, a clinician and three patients, created through the use cases,
so that the clinician's console opens on a worklist with something on it.

Alex was registered two days ago and takes escitalopram and diazepam: one diazepam
dose skipped, the latest one missed, the rest taken; alcohol reported with diazepam
(a major finding nobody has acknowledged yet); and a diazepam taper drafted, waiting
for approval. Sam has nothing to act on. Jordan was registered four days ago and
never activated the account.

Idempotent: accounts that already exist are left as they are, and the story of an
account is told only when the account is created.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from service import knowledge
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule
from service.usecases import auth, doses, followups, patients, prescriptions, record, users
from service.usecases.auth import LoginPolicy
from service.usecases.context import SYSTEM, Caller, Clock
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.security import Passwords
from service.usecases.taper_drafting import create_taper_plan

ADMIN = ("admin@demo.medtrack.test", "demo-admin-password", "Avery Admin")
CLINICIAN = ("dr.rivera@demo.medtrack.test", "demo-clinician-password", "Dr Morgan Rivera")
PATIENTS = (
    ("alex@demo.medtrack.test", "demo-patient-password", "Alex Kim", "America/New_York"),
    ("sam@demo.medtrack.test", "demo-patient-password", "Sam Okafor", "Europe/London"),
)
# Registered, never activated: on the clinician's worklist once 72 hours have passed.
NOT_ACTIVATED = ("jordan@demo.medtrack.test", "Jordan Lee", "America/Chicago")
NO_SIGN_IN_YET = "(not activated)"
REGISTERED_AGO = dt.timedelta(days=4)
# Alex's regimen started this long ago, so that some doses are already past.
REGIMEN_AGO = dt.timedelta(days=2)
SKIP_REASON = "Felt too drowsy to take it."
DRINKS = ("alcohol", "2-3 glasses of wine most evenings")
TAPER_STARTS_IN = dt.timedelta(days=7)


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


@dataclass(frozen=True)
class _Demo:
    """What telling the demo's stories needs."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    passwords: Passwords
    policy: LoginPolicy
    kb: KnowledgeBase
    reminders: ReminderPolicy
    as_doc: Caller

    def at(self, ago: dt.timedelta) -> Clock:
        then = self.clock() - ago
        return lambda: then


def seed(
    *,
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    passwords: Passwords,
    policy: LoginPolicy,
    kb: KnowledgeBase | None = None,
    reminders: ReminderPolicy = DEFAULT_POLICY,
) -> list[Credential]:
    """Every demo account, created unless it exists, each new one with its story."""
    out = [
        _staff(uow, clock, passwords, role=role, account=account)
        for role, account in ((Role.ADMIN, ADMIN), (Role.CLINICIAN, CLINICIAN))
    ]
    with uow() as u:
        doc = u.users.by_email(CLINICIAN[0])
        assert doc is not None
    as_doc = Caller(principal=Principal(user_id=doc.id, role=Role.CLINICIAN), agent="demo")
    demo = _Demo(uow, clock, passwords, policy, kb or knowledge.load(), reminders, as_doc)
    for index, (email, password, name, tz) in enumerate(PATIENTS):
        with uow() as u:
            exists = u.users.by_email(email)
        if exists is None:
            _activated_patient(demo, index, email=email, password=password, name=name, tz=tz)
        out.append(Credential(Role.PATIENT.value, email, password, exists is None))
    out.append(_never_activated(demo))
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


def _activated_patient(
    demo: _Demo, index: int, *, email: str, password: str, name: str, tz: str
) -> None:
    """Registered and activated; the first patient two days ago, with their story."""
    when = demo.at(REGIMEN_AGO if index == 0 else dt.timedelta(0))
    rec = patients.create_patient(
        uow=demo.uow(),
        caller=demo.as_doc,
        clock=when,
        activation_ttl=dt.timedelta(hours=1),
        name=name,
        email=email,
        timezone=tz,
        date_of_birth=dt.date(1984 + index, 3, 14),
    )
    assert rec.activation_code is not None
    me = auth.activate(
        uow=demo.uow(),
        caller=SYSTEM,
        clock=when,
        passwords=demo.passwords,
        policy=demo.policy,
        activation_code=rec.activation_code,
        password=password,
    )
    assert me.patient_id is not None
    if index == 0:
        patient = Principal(user_id=me.id, role=Role.PATIENT, patient_id=me.patient_id)
        _alex(demo, Caller(principal=patient, agent="demo"), me.patient_id, tz)


def _never_activated(demo: _Demo) -> Credential:
    email, name, tz = NOT_ACTIVATED
    with demo.uow() as u:
        exists = u.users.by_email(email)
    if exists is None:
        patients.create_patient(
            uow=demo.uow(),
            caller=demo.as_doc,
            clock=demo.at(REGISTERED_AGO),
            activation_ttl=dt.timedelta(hours=72),
            name=name,
            email=email,
            timezone=tz,
            date_of_birth=dt.date(1991, 7, 2),
        )
    return Credential(Role.PATIENT.value, email, NO_SIGN_IN_YET, exists is None)


def _alex(demo: _Demo, alex: Caller, patient_id: uuid.UUID, tz: str) -> None:
    """The regimen from two days ago, its doses logged (one diazepam dose skipped,
    the latest missed), alcohol reported, and a diazepam taper drafted."""
    started = demo.at(REGIMEN_AGO)
    rx_ids = [
        prescriptions.create_prescription(
            uow=demo.uow(),
            caller=demo.as_doc,
            clock=started,
            kb=demo.kb,
            patient_id=patient_id,
            terms=terms,
            policy=demo.reminders,
        ).id
        for terms in _regimen(started().date())
    ]
    _log_doses(demo, alex, patient_id, since=started(), diazepam=rx_ids[1])
    followups.follow_up_missed(uow=demo.uow(), clock=demo.clock, policy=demo.reminders)
    record.add_product(
        uow=demo.uow(),
        caller=alex,
        clock=demo.clock,
        kb=demo.kb,
        patient_id=patient_id,
        name=DRINKS[0],
        how_often=DRINKS[1],
        note=None,
    )
    today = demo.clock().astimezone(zoneinfo.ZoneInfo(tz)).date()
    create_taper_plan(
        uow=demo.uow(),
        caller=demo.as_doc,
        clock=demo.clock,
        kb=demo.kb,
        patient_id=patient_id,
        rx_id=rx_ids[1],
        body=_taper(today + TAPER_STARTS_IN),
    )


def _log_doses(
    demo: _Demo, alex: Caller, patient_id: uuid.UUID, *, since: dt.datetime, diazepam: uuid.UUID
) -> None:
    """Every dose past its missed mark taken, except the first diazepam dose (skipped)
    and the last (left for the follow-up job to find missed)."""
    past = doses.list_doses(
        uow=demo.uow(),
        caller=alex,
        clock=demo.clock,
        kb=demo.kb,
        policy=demo.reminders,
        patient_id=patient_id,
        start=since,
        end=demo.clock() - demo.reminders.missed_after,
    )
    diazepam_doses = [d for d in past if d.prescription_id == diazepam]
    skipped, missed = diazepam_doses[0].id, diazepam_doses[-1].id
    for dose in past:
        if dose.id == skipped:
            doses.mark_skipped(
                uow=demo.uow(),
                caller=alex,
                clock=demo.clock,
                policy=demo.reminders,
                dose_id=dose.id,
                reason=SKIP_REASON,
            )
        elif dose.id != missed:
            doses.mark_taken(
                uow=demo.uow(),
                caller=alex,
                clock=demo.clock,
                policy=demo.reminders,
                dose_id=dose.id,
                taken_at=dose.scheduled_at + dt.timedelta(minutes=10),
            )


def _taper(start: dt.date) -> dict[str, Any]:
    """Diazepam 10 mg a day down by a quarter of the dose every two weeks (ASAM 2025:
    at most 25% every 2 weeks), as the API's taper schema loads such a request."""
    return {
        "drug": None,
        "start_dose_mg": Decimal(10),
        "target_dose_mg": Decimal(0),
        "algorithm": {"kind": "percent", "percent": Decimal(25)},
        "max_cut_pct": Decimal(25),
        "floor_dose_mg": None,
        "interval_days": 14,
        "slow_below_mg": None,
        "slow_interval_days": None,
        "start_date": start,
        "larger_dose_time": None,
        "symptom_threshold": None,
    }
