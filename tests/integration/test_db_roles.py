"""Two database roles on PostgreSQL: the owner migrates, the runtime role serves.

A database of its own, owned by a fresh owner role, migrated by `medtrack db upgrade`
as the owner, which grants a fresh runtime role. As the runtime role the append-only
tables cannot be changed by any route (triggers off, UPDATE, DELETE, TRUNCATE,
replication mode); the API serves; in production a connection as the owner or a
superuser is refused; and what the owner changes, `medtrack audit verify` names.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from service import create_app
from service.cli import main
from service.config import Settings, SettingsError
from service.db.engine import normalise_url
from service.runtime import open_database
from tests.conftest import PASSWORD, postgres_server_url, settings_for

SERVER = postgres_server_url()
pytestmark = pytest.mark.skipif(SERVER is None, reason="roles are a PostgreSQL matter")

GUARDED = ("audit_events", "prescription_versions")


@dataclass(frozen=True)
class Roles:
    owner_url: str
    runtime_url: str
    superuser_url: str
    runtime: str

    def env(self) -> dict[str, str]:
        return {
            "MEDTRACK_MIGRATION_DATABASE_URL": self.owner_url,
            "MEDTRACK_DATABASE_URL": self.runtime_url,
            "MEDTRACK_ARGON2_TIME_COST": "1",
            "MEDTRACK_ARGON2_MEMORY_KIB": "1024",
        }


def _admin(statement: str) -> None:
    assert SERVER is not None
    with psycopg.connect(
        make_url(SERVER).set(drivername="postgresql").render_as_string(False), autocommit=True
    ) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def roles() -> Iterator[Roles]:
    assert SERVER is not None
    slug = secrets.token_hex(4)
    owner, runtime, name = f"mt_owner_{slug}", f"mt_app_{slug}", f"medtrack_roles_{slug}"
    _admin(f"CREATE ROLE {owner} LOGIN")
    _admin(f"CREATE ROLE {runtime} LOGIN")
    _admin(f"CREATE DATABASE {name} OWNER {owner}")
    base = make_url(SERVER).set(database=name)
    try:
        yield Roles(
            owner_url=base.set(username=owner).render_as_string(False),
            runtime_url=base.set(username=runtime).render_as_string(False),
            superuser_url=base.render_as_string(False),
            runtime=runtime,
        )
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        _admin(f"DROP ROLE IF EXISTS {runtime}")
        _admin(f"DROP ROLE IF EXISTS {owner}")


@pytest.fixture
def upgraded(roles: Roles) -> Roles:
    result = CliRunner().invoke(main, ["db", "upgrade"], env=roles.env())
    assert result.exit_code == 0, result.output
    assert f"runtime role {roles.runtime}: append-only tables take SELECT and INSERT only" in (
        result.output
    )
    return roles


def _production(url: str) -> Settings:
    return replace(settings_for(url), env="production", secret_key="s" * 40)


def _refused(url: str, statement: str) -> str:
    engine = create_engine(normalise_url(url))
    try:
        with pytest.raises(DBAPIError) as refused, engine.begin() as conn:
            conn.execute(text(statement))
        return str(refused.value.orig)
    finally:
        engine.dispose()


@pytest.mark.parametrize("table", GUARDED)
@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE {t} DISABLE TRIGGER USER",
        "ALTER TABLE {t} DISABLE TRIGGER ALL",
        "UPDATE {t} SET id = id",
        "DELETE FROM {t}",
        "TRUNCATE {t}",
        "DROP TABLE {t}",
        "CREATE TRIGGER t BEFORE INSERT ON {t} FOR EACH ROW EXECUTE FUNCTION {t}_append_only()",
    ],
)
def test_the_runtime_role_cannot_change_an_append_only_table(
    upgraded: Roles, table: str, statement: str
) -> None:
    message = _refused(upgraded.runtime_url, statement.format(t=table))
    assert "permission denied" in message or "must be owner" in message, message


def test_the_runtime_role_cannot_switch_triggers_off_for_its_session(upgraded: Roles) -> None:
    message = _refused(upgraded.runtime_url, "SET session_replication_role = replica")
    assert "permission denied" in message, message


def test_the_runtime_role_serves_and_its_trail_verifies(upgraded: Roles) -> None:
    env = upgraded.env()
    staff = CliRunner().invoke(
        main,
        [
            "users",
            "create",
            "--role",
            "clinician",
            "--email",
            "doc@example.org",
            "--name",
            "Doc",
            "--password",
            PASSWORD,
        ],
        env=env,
    )
    assert staff.exit_code == 0, staff.output
    settings = _production(upgraded.runtime_url)
    app = create_app(settings)
    client = app.test_client()
    token = client.post("/v1/auth/token", json={"email": "doc@example.org", "password": PASSWORD})
    assert token.status_code == 200, token.json
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}  # type: ignore[index]
    created = client.post(
        "/v1/patients",
        json={
            "name": "P",
            "email": "p@example.org",
            "timezone": "Europe/Paris",
            "date_of_birth": "1970-01-01",
        },
        headers=headers,
    )
    assert created.status_code in (201, 202), created.json
    app.extensions["medtrack"].db.dispose()

    verified = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert verified.exit_code == 0, verified.output

    # The owner can still get past the triggers; the chain shows it.
    owner = create_engine(normalise_url(upgraded.owner_url))
    with owner.begin() as conn:
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(
            text(
                "UPDATE audit_events SET outcome = '0', subtype = 'user.create' "
                "WHERE id = (SELECT max(id) FROM audit_events)"
            )
        )
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    owner.dispose()
    broken = CliRunner().invoke(main, ["audit", "verify"], env=env)
    assert broken.exit_code == 1
    assert "changed after it was written" in broken.output


@pytest.mark.parametrize("who", ["owner", "superuser"])
def test_production_refuses_to_serve_as_the_owner_or_a_superuser(upgraded: Roles, who: str) -> None:
    url = upgraded.owner_url if who == "owner" else upgraded.superuser_url
    settings = _production(url)
    expected = "owns the tables" if who == "owner" else "is a superuser"
    with pytest.raises(SettingsError, match=expected):
        open_database(settings)
    with pytest.raises(SettingsError, match=expected):
        create_app(settings)


def test_upgrade_refuses_a_runtime_role_that_is_the_owner(roles: Roles) -> None:
    env = {**roles.env(), "MEDTRACK_DATABASE_URL": roles.owner_url}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert "need a role of their own" in result.output


def test_upgrade_names_a_missing_runtime_role(roles: Roles) -> None:
    env = {**roles.env(), "MEDTRACK_DATABASE_RUNTIME_ROLE": "no_such_role_here"}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 1
    assert "'no_such_role_here' does not exist" in result.output
