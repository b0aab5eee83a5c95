"""GET /v1/me/doses/today is conditional: a strong ETag over the answer, 304 to an
If-None-Match that names it, a new tag when anything in the day changes, and every
read (304s too) in the audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from service.config import Settings
from service.db.tables import AuditEvent
from service.db.uow import Database
from tests.api.test_doses_api import schedule, setup_patient
from tests.conftest import Account, Builders, FrozenClock, settings_for

TODAY = "/v1/me/doses/today"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def reads(database: Database, patient: Account) -> int:
    query = select(func.count()).where(
        col(AuditEvent.patient_id) == patient.patient_id, col(AuditEvent.subtype) == "dose.list"
    )
    with database.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def patient_with_doses(make: Builders, clock: FrozenClock) -> tuple[Account, Account]:
    doc, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    make.prescription(doc, pat, schedule=schedule("08:00", "20:00"), start_date="2026-06-10")
    return doc, pat


def test_an_unchanged_day_is_304_and_still_audited(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = patient_with_doses(make, clock)
    first = make.client.get(TODAY, headers=pat.headers)
    assert first.status_code == 200, first.get_json()
    tag = first.headers["ETag"]
    assert tag.startswith('"'), "a strong tag"
    before = reads(database, pat)
    r = make.client.get(TODAY, headers={**pat.headers, "If-None-Match": tag})
    assert r.status_code == 304
    assert r.data == b""
    assert r.headers["ETag"] == tag
    assert reads(database, pat) == before + 1
    assert make.client.get(TODAY, headers=doc.headers).status_code == 403


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("{tag}", 304),
        ("W/{tag}", 304),  # If-None-Match compares weakly (RFC 9110 13.1.2)
        ('"elsewhere", {tag}', 304),
        ("*", 304),
        ('"elsewhere"', 200),
        ('W/"elsewhere", "other"', 200),
    ],
)
def test_if_none_match_forms(make: Builders, clock: FrozenClock, sent: str, status: int) -> None:
    _, pat = patient_with_doses(make, clock)
    tag = make.client.get(TODAY, headers=pat.headers).headers["ETag"]
    r = make.client.get(TODAY, headers={**pat.headers, "If-None-Match": sent.format(tag=tag)})
    assert r.status_code == status
    assert (r.get_json() is not None) == (status == 200)


def test_a_change_to_the_day_is_a_new_tag(make: Builders, clock: FrozenClock) -> None:
    _, pat = patient_with_doses(make, clock)
    first = make.client.get(TODAY, headers=pat.headers)
    tag = first.headers["ETag"]
    morning = first.get_json()["doses"][0]
    logged = make.client.post(f"/v1/doses/{morning['id']}/taken", json={}, headers=pat.headers)
    assert logged.status_code == 200, logged.get_json()
    r = make.client.get(TODAY, headers={**pat.headers, "If-None-Match": tag})
    assert r.status_code == 200
    assert r.headers["ETag"] != tag
    assert r.get_json()["doses"][0]["status"] == "taken"
    # The same answer twice is the same tag.
    assert make.client.get(TODAY, headers=pat.headers).headers["ETag"] == r.headers["ETag"]
