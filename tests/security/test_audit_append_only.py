"""The audit trail (and the other records of what happened) can only grow.

The database refuses UPDATE, DELETE and, on PostgreSQL, TRUNCATE of these tables,
whoever asks (migrations 0001, 0002, 0004, 0005, 0006 and 0008); and the application never
asks: across a run of ordinary and refused requests it issues no such statement, and
every earlier audit row is still there, unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DatabaseError

from service.db.uow import Database
from tests.conftest import Builders, FrozenClock, is_postgres
from tests.security.world import World, build_world

APPEND_ONLY = (
    "audit_anchors",
    "audit_events",
    "prescription_versions",
    "prescription_findings",
    "taper_plan_versions",
    "taper_step_records",
    "taper_symptom_reports",
    "supply_entries",
)


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


def _refusals() -> list[str]:
    statements = ["UPDATE {t} SET id = id", "DELETE FROM {t}", "DELETE FROM {t} WHERE 1 = 1"]
    if is_postgres():
        statements += ["TRUNCATE {t}", "TRUNCATE {t} CASCADE"]
    return statements


# Row triggers fire only where there are rows: these three have some in the world.
@pytest.mark.parametrize("table", ["audit_events", "prescription_versions", "taper_plan_versions"])
@pytest.mark.parametrize("statement", _refusals())
def test_the_database_refuses_to_change_or_empty_an_append_only_table(
    world: World, database: Database, table: str, statement: str
) -> None:
    with database.engine.connect() as conn:
        before = conn.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
    assert before
    with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as conn:
        conn.execute(text(statement.format(t=table)))
    with database.engine.connect() as conn:
        assert conn.execute(text(f"SELECT * FROM {table}")).all() == before  # noqa: S608


@pytest.mark.parametrize("table", APPEND_ONLY)
def test_every_append_only_table_has_its_guards(database: Database, table: str) -> None:
    with database.engine.connect() as conn:
        if is_postgres():
            query = (
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"
            )
            expected = {f"{table}_append_only", f"{table}_no_truncate"}
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
            expected = {f"{table}_no_update", f"{table}_no_delete"}
        assert set(conn.execute(text(query), {"t": table}).scalars()) == expected


def _audit_rows(database: Database) -> list[str]:
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM audit_events ORDER BY id"))
        return [repr(tuple(r)) for r in rows]


WRITES_TO_AUDIT = re.compile(r"^\s*(UPDATE|DELETE\s+FROM|TRUNCATE)\s+\"?audit_events", re.I)


def test_the_application_only_ever_inserts_audit_rows(
    make: Builders, world: World, database: Database
) -> None:
    seen: list[str] = []
    engine = make.app.extensions["medtrack"].db.engine

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    earlier = _audit_rows(database)
    event.listen(engine, "before_cursor_execute", record)
    try:
        _a_day_of_requests(make, world)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any(s.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS") for s in seen)
    assert [s for s in seen if WRITES_TO_AUDIT.search(s)] == []
    later = _audit_rows(database)
    assert later[: len(earlier)] == earlier
    assert len(later) > len(earlier) + 10


def _a_day_of_requests(make: Builders, w: World) -> None:
    c, pid = make.client, w.patient_id
    rx = f"/v1/patients/{pid}/prescriptions/{w.rx_id}"
    calls: list[tuple[str, str, Any, dict[str, str]]] = [
        ("GET", f"/v1/patients/{pid}", None, w.doc.headers),
        ("PATCH", f"/v1/patients/{pid}", {"allergies": ["penicillin"]}, w.doc.headers),
        ("PATCH", f"/v1/patients/{pid}", {"name": "Renamed"}, w.patient.headers),
        ("GET", f"/v1/patients/{pid}/audit", None, w.doc.headers),
        ("POST", f"/v1/taper-plans/{w.plan_id}/cancel", {"reason": "not now"}, w.doc.headers),
        ("PATCH", rx, {"instructions": "after food", "reason": "tolerability"}, w.doc.headers),
        ("POST", f"{rx}/pause", {"reason": "holiday"}, w.doc.headers),
        ("POST", f"/v1/doses/{w.dose_id}/skipped", {}, w.patient.headers),
        ("DELETE", f"/v1/me/devices/{w.device_id}", None, w.patient.headers),
        ("GET", f"/v1/patients/{pid}", None, w.outsider.headers),  # refused: audited
        ("POST", f"/v1/patients/{pid}/care-team", {"clinician_id": str(w.outsider.id)},
         w.admin.headers),
        ("DELETE", f"/v1/patients/{pid}/care-team/{w.outsider.id}", None, w.admin.headers),
        ("POST", "/v1/auth/logout", None, w.other_patient.headers),
    ]  # fmt: skip
    for method, path, body, headers in calls:
        r = c.open(path, method=method, json=body, headers=headers)
        assert r.status_code < 500, (method, path, r.get_json())
    r = c.post("/v1/auth/token", json={"email": w.doc.email, "password": "wrong password"})
    assert r.status_code == 401
