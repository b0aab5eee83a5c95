"""`medtrack backup` while the service writes, `medtrack restore` into a new database:
the restored database serves the same records and its audit trail verifies."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service import create_app
from service.cli import main
from service.db.engine import normalise_url
from tests.conftest import Account, Builders, is_postgres, postgres_server_url, settings_for


@pytest.fixture
def restored_url(tmp_path: Path) -> Iterator[str]:
    server = postgres_server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'restored.sqlite'}"
        return
    name = f"medtrack_restored_{secrets.token_hex(4)}"
    admin = make_url(server).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    try:
        yield make_url(server).set(database=name).render_as_string(False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def _cli(url: str, *args: str) -> Any:
    result = CliRunner().invoke(main, list(args), env={"MEDTRACK_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result


def _audit_hashes(url: str) -> dict[int, str]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, entry_hash FROM audit_events"))
            return {int(r.id): str(r.entry_hash) for r in rows}
    finally:
        engine.dispose()


def _records(url: str, doc: Account, patients: list[Account]) -> list[Any]:
    app = create_app(settings_for(url))
    client = app.test_client()
    token = client.post("/v1/auth/token", json={"email": doc.email, "password": doc.password})
    assert token.status_code == 200, token.json
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}  # type: ignore[index]
    seen = []
    for pat in patients:
        r = client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=headers)
        assert r.status_code == 200, r.json
        seen.append(r.json)
    app.extensions["medtrack"].db.dispose()
    return seen


def test_a_backup_taken_under_load_restores_and_verifies(
    make: Builders, database_url: str, restored_url: str, tmp_path: Path
) -> None:
    doc = make.clinician()
    patients = [make.patient(doc) for _ in range(3)]
    for pat, drug in zip(patients, ("metformin", "atorvastatin", "lisinopril"), strict=True):
        make.prescription(doc, pat, drug=drug)
    stop, started = threading.Event(), threading.Barrier(len(patients) + 1)
    reads = [0] * len(patients)
    errors: list[BaseException] = []

    def load(n: int, pat: Account) -> None:
        # Every read of a record is audited: a steady stream of audit writes.
        client = make.app.test_client()
        started.wait()
        try:
            while not stop.is_set():
                r = client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers)
                assert r.status_code == 200
                reads[n] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(n, p)) for n, p in enumerate(patients)]
    for t in threads:
        t.start()
    started.wait()
    target = tmp_path / "medtrack.backup"
    try:
        while sum(reads) < 10:
            stop.wait(0.01)
        _cli(database_url, "backup", str(target))
        during = sum(reads)
        while sum(reads) < during + 10:
            stop.wait(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]

    restored = _cli(restored_url, "restore", str(target))
    assert "audit trail verified" in restored.output
    assert _cli(restored_url, "audit", "verify").output.startswith("audit trail verified")
    # The copy is one moment of the trail: every entry in it is in the source, unchanged,
    # and the source went on after it.
    copied, source = _audit_hashes(restored_url), _audit_hashes(database_url)
    assert copied
    assert all(source.get(i) == h for i, h in copied.items())
    assert len(source) > len(copied)
    assert _records(restored_url, doc, patients) == _records(database_url, doc, patients)


def test_restore_refuses_a_database_that_is_not_empty(
    make: Builders, database_url: str, tmp_path: Path
) -> None:
    make.clinician()
    target = tmp_path / "medtrack.backup"
    _cli(database_url, "backup", str(target))
    result = CliRunner().invoke(
        main, ["restore", str(target)], env={"MEDTRACK_DATABASE_URL": database_url}
    )
    assert result.exit_code == 1
    expected = "has tables" if is_postgres() else "restore into a new database file"
    assert expected in result.output


def test_backup_never_overwrites(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "exists.backup"
    target.write_bytes(b"keep me")
    result = CliRunner().invoke(
        main, ["backup", str(target)], env={"MEDTRACK_DATABASE_URL": database_url}
    )
    assert result.exit_code == 1
    assert "never overwrites" in result.output
    assert target.read_bytes() == b"keep me"


def test_a_backup_is_readable_by_its_owner_only(database_url: str, tmp_path: Path) -> None:
    target = tmp_path / "medtrack.backup"
    _cli(database_url, "backup", str(target))
    assert target.stat().st_mode & 0o777 == 0o600


def test_restoring_a_file_that_is_not_a_backup_is_a_clear_error(
    restored_url: str, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database, not a dump\n" * 100)
    result = CliRunner().invoke(
        main, ["restore", str(junk)], env={"MEDTRACK_DATABASE_URL": restored_url}
    )
    assert result.exit_code == 1
    assert "Error:" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
