"""Shared fixtures: a real database per test, the app, a client, and data builders.

SQLite (default): the schema is migrated once into a template file that each test
copies. PostgreSQL (`MEDTRACK_TEST_DATABASE_URL`, a throwaway database: the
tests erase it): migrated once, every table truncated before each test.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from service import create_app
from service.config import Settings
from service.db.engine import normalise_url
from service.db.migrate import upgrade
from service.db.uow import Database
from service.domain.accounts import Role
from service.usecases import users
from service.usecases.context import SYSTEM
from service.usecases.security import Passwords

PG_URL = os.environ.get("MEDTRACK_TEST_DATABASE_URL")
TABLES = (
    "audit_anchors, audit_events, prescription_findings, prescription_versions, prescriptions, "
    "care_team_members, auth_tokens, login_failures, patients, users, "
    "imported_interactions, interaction_imports, notifications, dose_events, devices, "
    "taper_symptom_reports, taper_step_records, taper_plan_versions, taper_plans, "
    "worklist_marks, idempotency_keys, cds_feedback, cds_cards, cds_token_uses, "
    "patient_identifiers, supply_entries"
)
PASSWORD = "correct horse battery staple"
APPEND_ONLY = (
    "audit_anchors",
    "audit_events",
    "prescription_versions",
    "prescription_findings",
    "taper_plan_versions",
    "taper_step_records",
    "taper_symptom_reports",
    "worklist_marks",
    "supply_entries",
)


def is_postgres() -> bool:
    return bool(PG_URL)


@pytest.fixture(scope="session")
def _migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        upgrade(PG_URL)
        return normalise_url(PG_URL)
    template = tmp_path_factory.mktemp("template") / "medtrack.sqlite"
    upgrade(f"sqlite:///{template}")
    return str(template)


@pytest.fixture
def database_url(_migrated: str, tmp_path: Path) -> str:
    """A migrated, empty database for this test."""
    if PG_URL:
        engine = create_engine(_migrated)
        with engine.begin() as conn:
            # The append-only tables refuse TRUNCATE (migration 0006): the throwaway
            # database is reset with their triggers off in this one transaction
            # (owning the tables is enough; no superuser needed).
            for table in APPEND_ONLY:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
            for table in APPEND_ONLY:
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        engine.dispose()
        return _migrated
    target = tmp_path / "medtrack.sqlite"
    shutil.copyfile(_migrated, target)
    return f"sqlite:///{target}"


class FrozenClock:
    """A settable clock; starts at the real now so tokens look ordinary."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


def settings_for(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test database. Cheap Argon2 parameters keep the suite fast;
    production uses the defaults. Tests that move the clock through weeks give a
    longer `token_ttl_seconds`."""
    return Settings(
        env="test",
        database_url=database_url,
        secret_key=secrets.token_urlsafe(32),
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        **overrides,
    )


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Iterator[Flask]:
    application = create_app(settings)
    services = application.extensions["medtrack"]
    application.extensions["medtrack"] = replace(services, clock=clock)
    yield application
    services.db.dispose()


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """The app served over real HTTP (werkzeug, threaded) on a free port, for clients
    that speak HTTP themselves: a generated client, a FHIR client library."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """Direct access to the test database, for setup and for checking what was stored."""
    db = Database(settings.database_url)
    yield db
    db.dispose()


@dataclass
class Account:
    id: uuid.UUID
    email: str
    password: str
    headers: dict[str, str]
    patient_id: uuid.UUID | None = None


class Builders:
    """Readable test data through the real API (and the CLI path for staff)."""

    def __init__(self, app: Flask, client: FlaskClient, database: Database) -> None:
        self.app = app
        self.client = client
        self.database = database
        self.passwords = Passwords(time_cost=1, memory_kib=1024)

    def _token(self, email: str, password: str) -> dict[str, str]:
        r = self.client.post("/v1/auth/token", json={"email": email, "password": password})
        assert r.status_code == 200, r.json
        return {"Authorization": f"Bearer {r.json['access_token']}"}  # type: ignore[index]

    def staff(self, role: Role = Role.CLINICIAN, name: str | None = None) -> Account:
        slug = secrets.token_hex(3)
        email = f"{role.value}-{slug}@example.org"
        user = users.create_staff_user(
            uow=self.database.uow(),
            caller=SYSTEM,
            clock=lambda: dt.datetime.now(dt.UTC),
            passwords=self.passwords,
            role=role,
            email=email,
            password=PASSWORD,
            name=name or f"{role.value.title()} {slug}",
        )
        return Account(
            id=user.id, email=email, password=PASSWORD, headers=self._token(email, PASSWORD)
        )

    def clinician(self) -> Account:
        return self.staff(Role.CLINICIAN)

    def admin(self) -> Account:
        return self.staff(Role.ADMIN)

    def patient(self, clinician: Account, **overrides: Any) -> Account:
        slug = secrets.token_hex(3)
        body = {
            "name": f"Patient {slug}",
            "email": f"patient-{slug}@example.org",
            "timezone": "America/New_York",
            "date_of_birth": "1975-04-12",
            **overrides,
        }
        r = self.client.post("/v1/patients", json=body, headers=clinician.headers)
        assert r.status_code == 202, r.json
        data: dict[str, Any] = r.json  # type: ignore[assignment]
        r = self.client.post(
            "/v1/auth/activate",
            json={"activation_code": data["activation_code"], "password": PASSWORD},
        )
        assert r.status_code == 200, r.json
        me: dict[str, Any] = r.json  # type: ignore[assignment]
        return Account(
            id=uuid.UUID(me["id"]),
            email=body["email"],
            password=PASSWORD,
            headers=self._token(body["email"], PASSWORD),
            patient_id=uuid.UUID(me["patient_id"]),
        )

    def prescription(
        self, clinician: Account, patient: Account, **overrides: Any
    ) -> dict[str, Any]:
        body = prescription_body(**overrides)
        r = self.client.post(
            f"/v1/patients/{patient.patient_id}/prescriptions", json=body, headers=clinician.headers
        )
        assert r.status_code == 201, r.json
        return r.json  # type: ignore[return-value]


def prescription_body(**overrides: Any) -> dict[str, Any]:
    """The example body of the prescriptions endpoint, with overrides."""
    body: dict[str, Any] = {
        "drug": "escitalopram",
        "dose": {"amount": 10, "unit": "mg"},
        "route": "oral",
        "schedule": {
            "times": ["08:00"],
            "every_n_days": 1,
            "days_of_week": None,
            "as_needed": False,
            "max_doses_per_day": None,
            "min_hours_between": None,
            "amounts": None,
        },
        "start_date": "2026-01-05",
        "end_date": None,
        "instructions": "with food",
    }
    body.update(overrides)
    return body


@pytest.fixture
def make(app: Flask, client: FlaskClient, database: Database) -> Builders:
    return Builders(app, client, database)


@pytest.fixture
def count_rows(database: Database) -> Callable[[str], int]:
    def count(table: str) -> int:
        with database.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608

    return count


def postgres_server_url() -> str | None:
    """The server part of MEDTRACK_TEST_DATABASE_URL (for tests that need a second DB)."""
    if not PG_URL:
        return None
    return make_url(normalise_url(PG_URL)).set(database="postgres").render_as_string(False)
