"""Two database roles on PostgreSQL: the owner migrates, the runtime role serves.

The owner owns every table and can lift a trigger; the API and the scheduler connect
as a runtime role that owns nothing and holds only what serving needs: SELECT and
INSERT on the append-only tables (no UPDATE, DELETE, TRUNCATE or TRIGGER), SELECT,
INSERT and UPDATE elsewhere, DELETE only where rows are counters rather than records,
and no privilege at all on the migrations' own table beyond reading it. A runtime
role that could do more (a superuser, the owner or a member of it) is refused in
production (`unsafe_runtime_role`).

SQLite has no roles: whoever can write the file can do anything to it. There the
append-only triggers stop the application's own mistakes, and the audit trail's hash
chains (`medtrack audit verify`) show a change made past them.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from service.db.engine import normalise_url

# The records of what happened: the runtime role may add to them, never change them.
APPEND_ONLY = (
    "audit_anchors",
    "audit_events",
    "prescription_findings",
    "prescription_versions",
    "taper_plan_versions",
    "taper_step_records",
    "taper_symptom_reports",
    "supply_entries",
    "worklist_marks",
)
# Tables whose rows are short-lived counters or replay records, not clinical or
# account records.
DELETABLE = ("login_failures", "idempotency_keys", "cds_token_uses")
READ_ONLY = ("alembic_version",)
_FORBIDDEN_ON_APPEND_ONLY = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


class RoleError(RuntimeError):
    """The runtime role is missing, or could change what it must only append to."""


def runtime_role_of(database_url: str) -> str | None:
    """The user name a runtime database URL connects as (None for SQLite)."""
    url = make_url(normalise_url(database_url))
    if url.get_backend_name() != "postgresql":
        return None
    return url.username


def _quote(conn: Connection, name: str) -> str:
    return str(conn.execute(text("SELECT quote_ident(:n)"), {"n": name}).scalar_one())


def _tables(conn: Connection) -> list[str]:
    rows = conn.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
    )
    return [str(r) for r in rows.scalars()]


def grant_runtime(engine: Engine, role: str) -> list[str]:
    """Give `role` exactly the runtime privileges on every table (run as the owner
    after each upgrade, so new tables are covered); returns what was granted."""
    with engine.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if exists.first() is None:
            raise RoleError(
                f"the runtime role {role!r} does not exist; create it first, e.g. "
                f"CREATE ROLE {role} LOGIN PASSWORD '...'"
            )
        me = str(conn.execute(text("SELECT current_user")).scalar_one())
        if me == role:
            raise RoleError(
                f"the runtime role {role!r} is the role that migrates and owns the tables; "
                "the API and the scheduler need a role of their own"
            )
        who = _quote(conn, role)
        schema = _quote(conn, str(conn.execute(text("SELECT current_schema()")).scalar_one()))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}"))
        conn.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}"))
        conn.execute(text(f"REVOKE CREATE ON SCHEMA {schema} FROM {who}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {who}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}"))
        granted = []
        for table in _tables(conn):
            if table in READ_ONLY:
                privileges = "SELECT"
            elif table in APPEND_ONLY:
                privileges = "SELECT, INSERT"
            elif table in DELETABLE:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            else:
                privileges = "SELECT, INSERT, UPDATE"
            conn.execute(text(f"GRANT {privileges} ON {_quote(conn, table)} TO {who}"))
            granted.append(f"{table}: {privileges}")
    return granted


def unsafe_runtime_role(engine: Engine) -> list[str]:
    """Why the role this engine connects as must not serve (empty when it may).

    Checked by the API and the scheduler at start: in production they refuse to
    start when this is not empty."""
    if engine.dialect.name != "postgresql":
        return []
    problems: list[str] = []
    with engine.connect() as conn:
        me = str(conn.execute(text("SELECT current_user")).scalar_one())
        superuser = conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar_one()
        if superuser:
            problems.append(f"{me} is a superuser")
        owned = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND pg_has_role(current_user, tableowner, 'MEMBER') ORDER BY 1 LIMIT 3"
            )
        ).scalars()
        owned_tables = list(owned)
        if owned_tables and not superuser:
            problems.append(f"{me} owns the tables (or is a member of their owner)")
        present = set(_tables(conn))
        for table in APPEND_ONLY:
            if table not in present:
                continue
            may = [
                p
                for p in _FORBIDDEN_ON_APPEND_ONLY
                if conn.execute(
                    text("SELECT has_table_privilege(current_user, :t, :p)"),
                    {"t": table, "p": p},
                ).scalar_one()
            ]
            if may and not superuser and not owned_tables:
                problems.append(f"{me} has {', '.join(may)} on {table}")
    return problems
