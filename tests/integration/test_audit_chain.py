"""The audit trail's hash chains: `medtrack audit verify` finds what the owner changed.

The application's role cannot change the trail (tests/integration/test_db_roles.py);
these tests play the tables' owner, who can lift the append-only triggers, and check
that every kind of change is named by `verify`: an entry changed, removed, or a chain
rewritten to its end after an anchor wrote its head down.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Connection, text

from service.cli import main
from service.db.audit import AuditChainRepository
from service.db.uow import Database
from service.domain.audit_chain import GENESIS, SYSTEM_CHAIN, Head, extend, link
from service.usecases import audit
from service.usecases.audit_chain import anchor, verify
from service.usecases.context import Caller
from tests.conftest import Account, Builders, FrozenClock, is_postgres


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {"MEDTRACK_DATABASE_URL": database_url}


def _cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, ["audit", *args], env=env)


def _activity(make: Builders) -> tuple[Account, Account]:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat)
    make.prescription(doc, pat, drug="metformin")
    assert make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers).json
    return doc, pat


def _as_owner(database: Database, *statements: str, params: dict[str, Any] | None = None) -> None:
    """Run statements with the append-only triggers lifted, as the tables' owner can."""
    with database.engine.begin() as conn:
        _lift_triggers(conn)
        for statement in statements:
            conn.execute(text(statement), params or {})
        _restore_triggers(conn)


def _lift_triggers(conn: Connection) -> None:
    if is_postgres():
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))


def _restore_triggers(conn: Connection) -> None:
    if is_postgres():
        conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        return
    for event in ("UPDATE", "DELETE"):
        conn.execute(
            text(
                f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        )


def _patient_chain(database: Database, patient_id: uuid.UUID) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM audit_events WHERE chain_key = :k ORDER BY chain_seq"),
            {"k": str(patient_id)},
        )
        return [dict(r._mapping) for r in rows]


def test_an_untouched_trail_verifies(make: Builders, env: dict[str, str]) -> None:
    _, pat = _activity(make)
    result = _cli(env, "verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("audit trail verified:")
    chain = _patient_chain(make.database, pat.patient_id or uuid.uuid4())
    assert [e["chain_seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["entry_hash"] for a, b in itertools.pairwise(chain))


def test_an_entry_changed_by_the_owner_is_named(make: Builders, env: dict[str, str]) -> None:
    _, pat = _activity(make)
    chain = _patient_chain(make.database, pat.patient_id or uuid.uuid4())
    target = chain[1]
    _as_owner(
        make.database,
        "UPDATE audit_events SET outcome_desc = 'nothing happened' WHERE id = :id",
        params={"id": target["id"]},
    )
    result = _cli(env, "verify")
    assert result.exit_code == 1
    assert (
        f"broken: chain {pat.patient_id}, entry 2 (audit event id {target['id']}): "
        "changed after it was written"
    ) in result.output


def test_an_entry_removed_by_the_owner_is_named(make: Builders, env: dict[str, str]) -> None:
    _, pat = _activity(make)
    chain = _patient_chain(make.database, pat.patient_id or uuid.uuid4())
    _as_owner(
        make.database, "DELETE FROM audit_events WHERE id = :id", params={"id": chain[1]["id"]}
    )
    result = _cli(env, "verify")
    assert result.exit_code == 1
    assert f"broken: chain {pat.patient_id}, entry 2" in result.output
    assert "entry 2 is missing" in result.output


def test_an_entry_slipped_in_past_the_application_is_named(
    make: Builders, env: dict[str, str], clock: FrozenClock
) -> None:
    _activity(make)
    with make.database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events (recorded, action, subtype, outcome, entity_type) "
                "VALUES (:now, 'R', 'audit.read', '0', 'Patient')"
            ),
            {"now": clock()},
        )
    result = _cli(env, "verify")
    assert result.exit_code == 1
    assert "is in no chain" in result.output


def test_a_chain_rewritten_to_its_end_is_caught_by_the_anchor(
    make: Builders, env: dict[str, str]
) -> None:
    """An owner who recomputes every hash after the entry they changed makes the
    chain itself consistent again; the anchor written before still names its head."""
    _, pat = _activity(make)
    assert _cli(env, "anchor").output.startswith("anchored: ")
    chain = _patient_chain(make.database, pat.patient_id or uuid.uuid4())
    forged = [dict(e) for e in chain]
    forged[0]["outcome_desc"] = "rewritten"
    head: Head | None = None
    for entry in forged:
        head = extend(head, entry, str(pat.patient_id))
    statements = [
        "UPDATE audit_events SET outcome_desc = :d0 WHERE id = :i0",
        *(
            f"UPDATE audit_events SET prev_hash = :p{n}, entry_hash = :h{n} WHERE id = :i{n}"  # noqa: S608
            for n in range(len(forged))
        ),
    ]
    params: dict[str, Any] = {"d0": "rewritten"}
    for n, entry in enumerate(forged):
        params |= {f"i{n}": entry["id"], f"p{n}": entry["prev_hash"], f"h{n}": entry["entry_hash"]}
    _as_owner(make.database, *statements, params=params)

    result = _cli(env, "verify")
    assert result.exit_code == 1
    assert f"broken: chain {pat.patient_id}, entry {len(chain)}" in result.output
    assert "no longer holds the entry anchor 1" in result.output


def test_a_chain_cut_short_after_an_anchor_is_caught(make: Builders, env: dict[str, str]) -> None:
    _, pat = _activity(make)
    assert _cli(env, "anchor").exit_code == 0
    chain = _patient_chain(make.database, pat.patient_id or uuid.uuid4())
    _as_owner(
        make.database, "DELETE FROM audit_events WHERE id = :id", params={"id": chain[-1]["id"]}
    )
    result = _cli(env, "verify")
    assert result.exit_code == 1
    assert "no longer holds the entry anchor 1" in result.output


def test_anchors_chain_and_a_second_anchor_covers_only_what_moved(
    make: Builders, database: Database, clock: FrozenClock
) -> None:
    doc, pat = _activity(make)
    first = anchor(uow=database.uow(), clock=clock)
    assert first is not None
    assert anchor(uow=database.uow(), clock=clock) is None
    make.prescription(doc, pat, drug="atorvastatin")
    second = anchor(uow=database.uow(), clock=clock)
    assert second is not None
    assert second != first
    with database.engine.connect() as conn:
        rows = conn.execute(text("SELECT prev_digest, digest FROM audit_anchors ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(GENESIS, first), (first, second)]
    report = verify(uow=database.uow())
    assert report.intact, report.breaks
    assert report.anchors == 2


def test_writers_to_one_chain_take_turns(make: Builders, database: Database) -> None:
    """Sixteen threads audit reads of one record at once: one chain, no fork, no gap."""
    _, pat = _activity(make)
    assert pat.patient_id is not None
    caller = Caller(principal=None, agent="test")
    errors: list[BaseException] = []
    start = threading.Barrier(16)

    def read() -> None:
        try:
            start.wait()
            for _ in range(5):
                with database.uow() as uow:
                    audit.record_read(
                        uow,
                        caller=caller,
                        clock=_now,
                        subtype="record.read",
                        entity_type="Patient",
                        patient_id=pat.patient_id,  # type: ignore[arg-type]
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    report = verify(uow=database.uow())
    assert report.intact, report.breaks
    chain = _patient_chain(database, pat.patient_id)
    assert [e["chain_seq"] for e in chain] == list(range(1, len(chain) + 1))
    assert sum(e["subtype"] == "record.read" for e in chain) == 80


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_entries_about_no_patient_form_the_system_chain(make: Builders) -> None:
    make.clinician()
    with make.database.engine.connect() as conn:
        keys = set(conn.execute(text("SELECT DISTINCT chain_key FROM audit_events")).scalars())
    assert SYSTEM_CHAIN in keys


def test_the_hash_covers_every_column_that_says_what_happened() -> None:
    entry: dict[str, Any] = {"recorded": None, "subtype": "prescription.create", "before": None}
    base = link(GENESIS, entry)
    for column, value in (
        ("subtype", "prescription.update"),
        ("outcome_desc", "x"),
        ("client_request_id", "probe"),
        ("after", {"dose": 5}),
        ("chain_seq", 2),
    ):
        assert link(GENESIS, {**entry, column: value}) != base, column
    assert link("f" * 64, entry) != base


def test_verify_is_not_fooled_by_entries_and_anchors_written_while_it_walks(
    make: Builders, database: Database, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A verify run by cron while the service writes and the scheduler anchors: what
    it reads is one consistent picture, never a false break."""
    doc, pat = _activity(make)
    assert anchor(uow=database.uow(), clock=clock) is not None
    walk_chains = AuditChainRepository.chains

    def chains_with_writers(self: AuditChainRepository) -> Iterator[Any]:
        # Once the chains are read, the record grows and the scheduler anchors the
        # new heads, before verify is done.
        read = [(key, list(entries)) for key, entries in walk_chains(self)]
        make.prescription(doc, pat, drug="atorvastatin")
        clock.advance(minutes=10)
        assert anchor(uow=database.uow(), clock=clock) is not None
        for key, entries in read:
            yield key, iter(entries)

    monkeypatch.setattr(AuditChainRepository, "chains", chains_with_writers)
    report = verify(uow=database.uow())
    assert report.intact, report.breaks
    monkeypatch.undo()
    assert verify(uow=database.uow()).anchors == 2
