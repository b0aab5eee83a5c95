"""Idempotency-Key over HTTP: a retry gets the first answer and writes nothing; the
same key with another request is 409; keys are per caller, expire, and cover every
POST that creates or logs something."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlmodel import col

from service.api.idempotency import NOT_CREATING
from service.config import Settings
from service.db.tables import AuditEvent, DoseEvent, IdempotencyKey
from service.db.uow import Database
from service.usecases import doses as dose_usecases
from service.usecases.idempotency import fingerprint
from tests.api.test_doses_api import prn_body, setup_patient
from tests.conftest import Account, Builders, FrozenClock, is_postgres, settings_for


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the day these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def prn_url(make: Builders, doc: Account, pat: Account) -> str:
    rx = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions", json=prn_body(), headers=doc.headers
    ).get_json()
    return f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/prn-doses"


def keyed(account: Account, key: str) -> dict[str, str]:
    return {**account.headers, "Idempotency-Key": key}


def logged(database: Database, patient: Account) -> int:
    query = select(func.count()).where(
        col(DoseEvent.patient_id) == patient.patient_id, col(DoseEvent.prn)
    )
    with database.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def stored_keys(database: Database, key: str) -> int:
    query = select(func.count()).where(col(IdempotencyKey.key) == key)
    with database.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_retried_as_needed_dose_is_logged_once(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    key = f'"{uuid.uuid4()}"'
    first = make.client.post(url, json={}, headers=keyed(pat, key))
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(3):  # the train's tunnels: the app sends it again, and again
        retry = make.client.post(url, json={}, headers=keyed(pat, key))
        assert retry.status_code == 201, retry.get_json()
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.get_json() == first.get_json()
        assert retry.headers["Content-Type"] == first.headers["Content-Type"]
    assert logged(database, pat) == 1
    # The retries took no place in the limits: 4 h later (min interval) the second and
    # third of the day's three are logged.
    for hours in (4, 4):
        clock.advance(hours=hours)
        r = make.client.post(url, json={}, headers=keyed(pat, str(uuid.uuid4())))
        assert r.status_code == 201, r.get_json()
    assert logged(database, pat) == 3


def test_the_same_key_with_another_body_is_409(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    key = str(uuid.uuid4())
    assert make.client.post(url, json={}, headers=keyed(pat, key)).status_code == 201
    other = {"taken_at": "2026-06-10T07:30:00Z"}
    r = make.client.post(url, json=other, headers=keyed(pat, key))
    assert r.status_code == 409, r.get_json()
    assert "header.Idempotency-Key" in r.get_json()["errors"]
    # Spacing and key order are not a different body.
    same = make.client.post(
        url, data="{ }", content_type="application/json", headers=keyed(pat, key)
    )
    assert same.status_code == 201
    assert same.headers["Idempotent-Replayed"] == "true"
    assert logged(database, pat) == 1


def test_keys_are_each_callers_own(make: Builders, clock: FrozenClock, database: Database) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    other = make.patient(doc)
    key = str(uuid.uuid4())
    for who in (pat, other):
        r = make.client.post(prn_url(make, doc, who), json={}, headers=keyed(who, key))
        assert r.status_code == 201, r.get_json()
        assert "Idempotent-Replayed" not in r.headers
        assert logged(database, who) == 1
    assert stored_keys(database, key) == 2


def test_an_expired_key_is_purged_and_then_taken_afresh(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    key = str(uuid.uuid4())
    first = make.client.post(url, json={}, headers=keyed(pat, key))
    clock.advance(hours=23, minutes=59)
    assert make.client.post(url, json={}, headers=keyed(pat, key)).headers.get(
        "Idempotent-Replayed"
    )
    clock.advance(minutes=2)  # past the 24 hours
    again = make.client.post(url, json={}, headers=keyed(pat, key))
    assert again.status_code == 201, again.get_json()
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["id"] != first.get_json()["id"]
    assert logged(database, pat) == 2
    assert stored_keys(database, key) == 1


def test_a_refusal_of_the_request_is_replayed_a_conflict_is_not(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    invalid = {"taken_at": "2026-06-01T08:00:00Z"}  # backdated too far: 422
    key = str(uuid.uuid4())
    assert make.client.post(url, json=invalid, headers=keyed(pat, key)).status_code == 422
    replay = make.client.post(url, json=invalid, headers=keyed(pat, key))
    assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (422, "true")
    assert make.client.post(url, json={}, headers=keyed(pat, str(uuid.uuid4()))).status_code == 201
    # Too soon (409) is an answer about now, not about the request: not kept.
    key = str(uuid.uuid4())
    clock.advance(hours=1)
    assert make.client.post(url, json={}, headers=keyed(pat, key)).status_code == 409
    clock.advance(hours=3)
    later = make.client.post(url, json={}, headers=keyed(pat, key))
    assert later.status_code == 201, later.get_json()
    assert logged(database, pat) == 2


def test_a_request_that_fails_keeps_neither_its_write_nor_its_key(
    make: Builders, clock: FrozenClock, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    real = dose_usecases.log_prn_dose

    def crash_after_the_write(**kwargs: Any) -> Any:
        real(**kwargs)  # committed by the use case...
        raise RuntimeError("the process fails before it answers")

    monkeypatch.setattr(dose_usecases, "log_prn_dose", crash_after_the_write)
    key = str(uuid.uuid4())
    assert make.client.post(url, json={}, headers=keyed(pat, key)).status_code == 500
    assert (logged(database, pat), stored_keys(database, key)) == (0, 0)
    monkeypatch.setattr(dose_usecases, "log_prn_dose", real)
    r = make.client.post(url, json={}, headers=keyed(pat, key))
    assert r.status_code == 201, r.get_json()
    assert "Idempotent-Replayed" not in r.headers
    assert (logged(database, pat), stored_keys(database, key)) == (1, 1)


@pytest.mark.parametrize(
    "key", ['""', "x" * 256, '"caf\u00e9"', "two\tparts"], ids=["empty", "long", "latin1", "tab"]
)
def test_a_malformed_key_is_400_naming_the_header(
    make: Builders, clock: FrozenClock, key: str
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    headers = {**pat.headers, "Idempotency-Key": key.encode("utf-8").decode("latin-1")}
    r = make.client.post(url, json={}, headers=headers)
    assert r.status_code == 400, r.get_json()
    assert list(r.get_json()["errors"]) == ["header.Idempotency-Key"]


def test_concurrent_retries_log_once(
    app: Flask,
    make: Builders,
    clock: FrozenClock,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    real = dose_usecases.log_prn_dose
    started = threading.Event()

    def slow(**kwargs: Any) -> Any:
        started.set()
        threading.Event().wait(1.5)  # the first request is still being answered
        return real(**kwargs)

    monkeypatch.setattr(dose_usecases, "log_prn_dose", slow)
    key = str(uuid.uuid4())
    answers: list[Any] = []

    def send() -> None:
        answers.append(app.test_client().post(url, json={}, headers=keyed(pat, key)))

    first = threading.Thread(target=send)
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=send)
    second.start()
    first.join(10)
    second.join(10)
    assert logged(database, pat) == 1
    fresh = [a for a in answers if a.status_code == 201 and "Idempotent-Replayed" not in a.headers]
    assert len(fresh) == 1
    (other,) = [a for a in answers if a is not fresh[0]]
    if is_postgres():
        # The key is held by the first request's transaction: the draft's "in flight".
        assert other.status_code == 409, other.get_json()
        assert other.headers["Retry-After"] == "1"
    else:
        # SQLite: the second waits for the first's write lock, then replays its answer.
        assert (other.status_code, other.headers["Idempotent-Replayed"]) == (201, "true")


def test_every_creating_post_takes_the_header(make: Builders) -> None:
    spec = make.client.get("/openapi.json").get_json()
    assert spec["components"]["parameters"]["IdempotencyKey"]["in"] == "header"
    admin = make.admin()
    covered = []
    for path, operations in spec["paths"].items():
        post = operations.get("post")
        if post is None:
            continue
        refs = [p.get("$ref", "") for p in post.get("parameters", [])]
        documented = "#/components/parameters/IdempotencyKey" in refs
        creating = not path.startswith("/v1/auth/") and path not in NOT_CREATING
        assert documented == creating, path
        if not creating:
            continue
        covered.append(path)
        # The layer is there at run time too: a malformed key is refused before the view.
        concrete = path
        for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
            concrete = concrete.replace(f"{{{name}}}", str(uuid.uuid4()))
        r = make.client.post(concrete, json={}, headers=keyed(admin, "x" * 300))
        assert r.status_code == 400, (path, r.get_json())
        assert "header.Idempotency-Key" in r.get_json()["errors"], path
    assert "/v1/patients/{patient_id}/prescriptions/{rx_id}/prn-doses" in covered
    assert "/v1/doses/{dose_id}/taken" in covered
    assert len(covered) >= 25


def audit_subtypes(database: Database, patient: Account) -> list[str]:
    query = (
        select(AuditEvent.subtype)
        .where(col(AuditEvent.patient_id) == patient.patient_id)
        .order_by(col(AuditEvent.id))
    )
    with database.engine.connect() as conn:
        return [str(s) for s in conn.execute(query).scalars()]


def test_a_replay_is_audited_and_refused_once_the_caller_may_no_longer_read_the_patient(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = f"/v1/patients/{pat.patient_id}/conditions"
    body = {"code": "substance-use-disorder"}
    key = str(uuid.uuid4())
    first = make.client.post(url, json=body, headers=keyed(doc, key))
    assert first.status_code == 201, first.get_json()
    again = make.client.post(url, json=body, headers=keyed(doc, key))
    assert again.headers["Idempotent-Replayed"] == "true"
    # Handing the record out again is a read of it, in the patient's trail.
    assert audit_subtypes(database, pat)[-1] == "idempotency.replay"

    # The clinician leaves the care team: the key no longer reaches the patient.
    admin, other = make.admin(), make.clinician()
    team = f"/v1/patients/{pat.patient_id}/care-team"
    added = make.client.post(team, json={"clinician_id": str(other.id)}, headers=admin.headers)
    assert added.status_code == 201, added.get_json()
    removed = make.client.delete(f"{team}/{doc.id}", headers=admin.headers)
    assert removed.status_code == 200, removed.get_json()
    refused = make.client.post(url, json=body, headers=keyed(doc, key))
    assert refused.status_code == 404, refused.get_json()
    assert "Idempotent-Replayed" not in refused.headers
    assert audit_subtypes(database, pat)[-1] == "access.denied"


def test_the_stored_fingerprint_is_keyed_with_the_secret(
    make: Builders, clock: FrozenClock, database: Database, settings: Settings
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    url = prn_url(make, doc, pat)
    key = str(uuid.uuid4())
    assert make.client.post(url, json={}, headers=keyed(pat, key)).status_code == 201
    with database.engine.connect() as conn:
        stored = conn.execute(
            select(IdempotencyKey.fingerprint).where(col(IdempotencyKey.key) == key)
        ).scalar_one()
    path = url
    plain = fingerprint(secret_key="", path=path, query="", body=b"{}")
    secret = settings.secret_key
    assert stored == fingerprint(secret_key=secret, path=path, query="", body=b"{}")
    assert stored != plain
