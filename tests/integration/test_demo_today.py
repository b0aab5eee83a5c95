"""`medtrack demo` at any hour in any zone: each demo patient who signs in has doses on
the app's home screen (their local today), and the story the demo tells is the same.

The clock moves through whole local days, DST changes included, seeding a fresh
database at each instant; the minute moves too, so that seeding lands before, at and
after the doses' times."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter

import pytest
from flask.testing import FlaskClient

from service import knowledge
from service.db.uow import Database
from service.domain.accounts import Principal, Role
from service.usecases import demo as demo_data
from service.usecases.context import Caller
from service.usecases.dose_list import list_doses, todays_doses
from service.usecases.reminders import DEFAULT_POLICY
from service.usecases.security import Passwords
from service.usecases.sessions import LoginPolicy
from service.usecases.taper_finding import list_my_taper_plans
from tests.conftest import FrozenClock

KB = knowledge.load()
PASSWORDS = Passwords(time_cost=1, memory_kib=1024)
LOGINS = LoginPolicy(
    max_failures=5,
    client_max_failures=50,
    max_delay_seconds=900,
    refresh_ttl=dt.timedelta(days=30),
    reset_ttl=dt.timedelta(hours=24),
)
SIGN_IN = {email: tz for email, _, _, tz in demo_data.PATIENTS}

# (zone for every demo patient, or None for each their own; the local day walked).
DAYS = [
    ("America/New_York", dt.date(2026, 12, 5)),
    ("America/New_York", dt.date(2027, 3, 14)),  # clocks go forward: 23 hours
    ("Pacific/Kiritimati", dt.date(2026, 12, 5)),  # UTC+14
    ("Pacific/Pago_Pago", dt.date(2026, 12, 5)),  # UTC-11
    ("Asia/Kolkata", dt.date(2026, 12, 5)),  # UTC+5:30
    ("Europe/London", dt.date(2027, 3, 28)),  # clocks go forward
    ("Europe/London", dt.date(2026, 10, 25)),  # clocks go back: 25 hours
    (None, dt.date(2026, 12, 5)),  # the demo's own zones, through a UTC day
]


def _instants(zone: str | None, day: dt.date) -> list[tuple[str, dt.datetime]]:
    """Every hour of the local day (a different minute each), as test ids and instants."""
    tz = zoneinfo.ZoneInfo(zone or "UTC")
    midnight = dt.datetime.combine(day, dt.time(0), tz).astimezone(dt.UTC)
    out = []
    for hour in range(25):
        at = midnight + dt.timedelta(hours=hour, minutes=(hour * 7) % 60)
        local = at.astimezone(tz)
        if local.date() == day:
            out.append((f"{zone or 'own-zones'}-{day}-{local:%H:%M%z}", at))
    return out


CASES = [(zone, at) for zone, day in DAYS for _, at in _instants(zone, day)]
IDS = [name for zone, day in DAYS for name, _ in _instants(zone, day)]


def _patient(database: Database, email: str) -> Caller:
    with database.uow() as u:
        user = u.users.by_email(email)
        assert user is not None
        patient = u.patients.by_user(user.id)
        assert patient is not None
    principal = Principal(user_id=user.id, role=Role.PATIENT, patient_id=patient.id)
    return Caller(principal=principal, agent="test")


def _seed(database: Database, at: dt.datetime, zone: str | None) -> None:
    demo_data.seed(
        uow=database.uow,
        clock=lambda: at,
        passwords=PASSWORDS,
        policy=LOGINS,
        kb=KB,
        timezone=zone,
    )


@pytest.mark.parametrize(("zone", "at"), CASES, ids=IDS)
def test_every_demo_patient_has_doses_today(
    database: Database, zone: str | None, at: dt.datetime
) -> None:
    _seed(database, at, zone)
    for email, own_zone in SIGN_IN.items():
        tz = zoneinfo.ZoneInfo(zone or own_zone)
        day, found = todays_doses(
            uow=database.uow(),
            caller=_patient(database, email),
            clock=lambda: at,
            kb=KB,
            policy=DEFAULT_POLICY,
        )
        assert day == at.astimezone(tz).date()
        assert found, f"{email} has no dose on {day} at {at.astimezone(tz):%H:%M}"
        assert {d.scheduled_at.astimezone(tz).date() for d in found} == {day}
        # Nothing before now is left for the patient but the story's two doses.
        taken_by_now = [d for d in found if d.scheduled_at <= at - demo_data.TAKEN_AFTER]
        assert all(d.status == "taken" for d in taken_by_now), found


@pytest.mark.parametrize(
    "at",
    [
        # 20:00 and 23:50 in New York, the evening after its midnight in UTC.
        dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 6, 4, 50, tzinfo=dt.UTC),
        # 00:05 in New York.
        dt.datetime(2026, 12, 6, 5, 5, tzinfo=dt.UTC),
    ],
    ids=["ny-20:00", "ny-23:50", "ny-00:05"],
)
def test_alex_s_story_is_told_in_alex_s_days(database: Database, at: dt.datetime) -> None:
    """Registered two local days ago; the first diazepam dose skipped, yesterday's last
    one missed, the rest taken; the taper drafted to start a week from today."""
    _seed(database, at, None)
    tz = zoneinfo.ZoneInfo("America/New_York")
    today = at.astimezone(tz).date()
    alex = _patient(database, demo_data.PATIENTS[0][0])
    assert alex.principal.patient_id is not None
    history = list_doses(
        uow=database.uow(),
        caller=alex,
        clock=lambda: at,
        kb=KB,
        policy=DEFAULT_POLICY,
        patient_id=alex.principal.patient_id,
        start=at - dt.timedelta(days=5),
        end=at,
    )
    first_day = dt.datetime.combine(today - dt.timedelta(days=2), dt.time(0), tz)
    assert min(d.scheduled_at for d in history) == first_day.replace(hour=8)
    settled = Counter(
        (d.status, d.scheduled_at.astimezone(tz).replace(tzinfo=None)) for d in history
    )
    skipped = [when for (status, when) in settled if status == "skipped"]
    missed = [when for (status, when) in settled if status == "missed"]
    assert skipped == [dt.datetime.combine(today - dt.timedelta(days=2), dt.time(8))]
    assert missed == [dt.datetime.combine(today - dt.timedelta(days=1), dt.time(20))]
    plans = list_my_taper_plans(
        uow=database.uow(), caller=alex, clock=lambda: at, limit=10, offset=0
    )
    assert [(p.status, p.steps[0].start_date) for p in plans] == [
        ("draft", today + dt.timedelta(days=7))
    ]


def test_an_unknown_zone_is_refused_before_anything_is_written(database: Database) -> None:
    with pytest.raises(demo_data.UnknownZone, match="Mars/Olympus_Mons"):
        _seed(database, dt.datetime.now(dt.UTC), "Mars/Olympus_Mons")
    with database.uow() as u:
        assert u.users.by_email(demo_data.ADMIN[0]) is None


def test_the_home_screen_over_http(
    client: FlaskClient, database: Database, clock: FrozenClock
) -> None:
    """What the app shows after `make run`: signed in as each patient, GET
    /v1/me/doses/today is their local today and holds doses."""
    _seed(database, clock(), None)
    for email, password, _, zone in demo_data.PATIENTS:
        token = client.post("/v1/auth/token", json={"email": email, "password": password})
        assert token.status_code == 200, token.json
        headers = {"Authorization": f"Bearer {token.json['access_token']}"}  # type: ignore[index]
        today = client.get("/v1/me/doses/today", headers=headers)
        assert today.status_code == 200
        body = today.json
        assert body is not None
        assert body["date"] == str(clock().astimezone(zoneinfo.ZoneInfo(zone)).date())
        assert body["doses"], email
