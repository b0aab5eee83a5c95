"""Demo data: an admin, a clinician and three patients, created through the use cases,
so that the clinician's console opens on a worklist with something on it and each
patient who signs in sees doses on the app's home screen (`GET /v1/me/doses/today`).

The story is told in each patient's own days, from their local date when the demo is
seeded, so that it reads the same at any hour in any zone. Alex was registered two
days ago and takes escitalopram and diazepam: the first diazepam dose skipped, the
last one of yesterday missed, every other dose before now taken; alcohol reported with
diazepam (a major finding nobody has acknowledged yet); and a diazepam taper drafted,
starting in a week, waiting for approval. Sam was registered a week ago and takes
atorvastatin every evening, every dose before now taken: nothing to act on. Jordan was
registered four days ago and never activated the account.

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

from service import knowledge
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role
from service.domain.interactions import KnowledgeBase
from service.domain.supply.stock import EntryKind
from service.domain.timezones import is_valid_timezone
from service.usecases import (
    auth,
    doses,
    followups,
    patients,
    prescriptions,
    record,
    supply,
    users,
)
from service.usecases.auth import LoginPolicy
from service.usecases.context import SYSTEM, Caller, Clock
from service.usecases.demo_regimens import alexs_regimen, alexs_taper, sams_regimen
from service.usecases.dose_views import DoseView
from service.usecases.planning import materialise_doses
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
# Days before the patient's local today, and the local time, each account was
# registered (its regimen starts that day, before its first dose).
REGISTERED = {0: (2, dt.time(7, 0)), 1: (7, dt.time(9, 0))}
JORDAN_REGISTERED = (4, dt.time(10, 0))
SKIP_REASON = "Felt too drowsy to take it."
DRINKS = ("alcohol", "2-3 glasses of wine most evenings")
DISPENSED = ("tablet 5 mg", Decimal(30))
TAPER_STARTS_IN = dt.timedelta(days=7)
# A dose before now is logged taken this long after its time (never in the future).
TAKEN_AFTER = dt.timedelta(minutes=10)


class UnknownZone(ValueError):
    """The zone asked for the demo patients is not an IANA time-zone name."""


@dataclass(frozen=True)
class Credential:
    role: str
    email: str
    password: str
    created: bool


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

    def today(self, zone: str) -> dt.date:
        """The patient's local date now."""
        return self.clock().astimezone(zoneinfo.ZoneInfo(zone)).date()

    def local(self, zone: str, days_ago: int, at: dt.time) -> Clock:
        """A clock stopped at `at` on the patient's local day `days_ago` before today."""
        day = self.today(zone) - dt.timedelta(days=days_ago)
        then = dt.datetime.combine(day, at, zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC)
        return lambda: then


def seed(
    *,
    uow: Callable[[], UnitOfWork],
    clock: Clock,
    passwords: Passwords,
    policy: LoginPolicy,
    kb: KnowledgeBase | None = None,
    reminders: ReminderPolicy = DEFAULT_POLICY,
    timezone: str | None = None,
) -> list[Credential]:
    """Every demo account, created unless it exists, each new one with its story;
    `timezone`, an IANA name, puts every demo patient in that zone (by default each
    has their own). UnknownZone for a name that is not a zone, before any write."""
    if timezone is not None and not is_valid_timezone(timezone):
        raise UnknownZone(f"{timezone!r} is not an IANA time-zone name (e.g. Europe/Paris)")
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
            _activated_patient(
                demo, index, email=email, password=password, name=name, tz=timezone or tz
            )
        out.append(Credential(Role.PATIENT.value, email, password, exists is None))
    out.append(_never_activated(demo, timezone))
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
    """Registered and activated on their day, then their story."""
    when = demo.local(tz, *REGISTERED[index])
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
    patient = Caller(
        principal=Principal(user_id=me.id, role=Role.PATIENT, patient_id=me.patient_id),
        agent="demo",
    )
    regimen = alexs_regimen if index == 0 else sams_regimen
    rx_ids = [
        prescriptions.create_prescription(
            uow=demo.uow(),
            caller=demo.as_doc,
            clock=when,
            kb=demo.kb,
            patient_id=me.patient_id,
            terms=terms,
            policy=demo.reminders,
        ).id
        for terms in regimen(when().astimezone(zoneinfo.ZoneInfo(tz)).date())
    ]
    # Planned up to now, as the scheduler would have done since: doses are logged
    # only once planned.
    materialise_doses(uow=demo.uow(), clock=demo.clock, kb=demo.kb, policy=demo.reminders)
    if index == 0:
        _alex(demo, patient, me.patient_id, tz, since=when(), diazepam=rx_ids[1])
    else:
        _log_doses(demo, patient, me.patient_id, since=when(), skipped=None, missed=None)


def _never_activated(demo: _Demo, timezone: str | None) -> Credential:
    email, name, tz = NOT_ACTIVATED
    tz = timezone or tz
    with demo.uow() as u:
        exists = u.users.by_email(email)
    if exists is None:
        patients.create_patient(
            uow=demo.uow(),
            caller=demo.as_doc,
            clock=demo.local(tz, *JORDAN_REGISTERED),
            activation_ttl=dt.timedelta(hours=72),
            name=name,
            email=email,
            timezone=tz,
            date_of_birth=dt.date(1991, 7, 2),
        )
    return Credential(Role.PATIENT.value, email, NO_SIGN_IN_YET, exists is None)


def _alex(
    demo: _Demo,
    alex: Caller,
    patient_id: uuid.UUID,
    tz: str,
    *,
    since: dt.datetime,
    diazepam: uuid.UUID,
) -> None:
    """The regimen's doses logged (the first diazepam dose skipped, yesterday's last
    missed), alcohol reported, and a diazepam taper drafted to start in a week."""
    midnight = dt.datetime.combine(demo.today(tz), dt.time(0), zoneinfo.ZoneInfo(tz))
    # A month's tablets dispensed when the regimen began: the doses since draw them
    # down, and the chart shows a refill coming due before the taper starts.
    supply.record_supply(
        uow=demo.uow(),
        caller=alex,
        clock=demo.clock,
        kb=demo.kb,
        policy=demo.reminders,
        patient_id=patient_id,
        rx_id=diazepam,
        kind=EntryKind.DISPENSED,
        formulation=DISPENSED[0],
        quantity=DISPENSED[1],
        dispensed_on=since.astimezone(zoneinfo.ZoneInfo(tz)).date(),
    )
    first, *_, yesterdays_last = [
        d.id
        for d in _doses(demo, alex, patient_id, since=since, until=midnight)
        if d.prescription_id == diazepam
    ]
    _log_doses(demo, alex, patient_id, since=since, skipped=first, missed=yesterdays_last)
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
    create_taper_plan(
        uow=demo.uow(),
        caller=demo.as_doc,
        clock=demo.clock,
        kb=demo.kb,
        patient_id=patient_id,
        rx_id=diazepam,
        body=alexs_taper(demo.today(tz) + TAPER_STARTS_IN),
    )


def _doses(
    demo: _Demo, patient: Caller, patient_id: uuid.UUID, *, since: dt.datetime, until: dt.datetime
) -> list[DoseView]:
    return doses.list_doses(
        uow=demo.uow(),
        caller=patient,
        clock=demo.clock,
        kb=demo.kb,
        policy=demo.reminders,
        patient_id=patient_id,
        start=since,
        end=until,
    )


def _log_doses(
    demo: _Demo,
    patient: Caller,
    patient_id: uuid.UUID,
    *,
    since: dt.datetime,
    skipped: uuid.UUID | None,
    missed: uuid.UUID | None,
) -> None:
    """Every dose from `since` to now logged taken, but `skipped` (skipped) and `missed`
    (left for the follow-up job to find missed)."""
    for dose in _doses(demo, patient, patient_id, since=since, until=demo.clock() - TAKEN_AFTER):
        if dose.id == skipped:
            doses.mark_skipped(
                uow=demo.uow(),
                caller=patient,
                clock=demo.clock,
                policy=demo.reminders,
                dose_id=dose.id,
                reason=SKIP_REASON,
            )
        elif dose.id != missed:
            doses.mark_taken(
                uow=demo.uow(),
                caller=patient,
                clock=demo.clock,
                policy=demo.reminders,
                dose_id=dose.id,
                taken_at=dose.scheduled_at + TAKEN_AFTER,
            )
