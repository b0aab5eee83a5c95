"""Finding a patient by name or e-mail (`q` of the patient list, in the API and the
console alike): the caller's patients only, by name, each one shown audited."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from service.db.uow import Database
from service.domain.accounts import Principal, Role
from service.usecases.context import Caller
from service.usecases.patient_profile import list_patients
from tests.conftest import Account, Builders


def _caller(account: Account, role: Role = Role.CLINICIAN) -> Caller:
    return Caller(principal=Principal(user_id=account.id, role=role, patient_id=account.patient_id))


def _search(
    database: Database, caller: Caller, q: str, limit: int = 50, offset: int = 0
) -> list[str]:
    found = list_patients(
        uow=database.uow(),
        caller=caller,
        clock=lambda: dt.datetime.now(dt.UTC),
        q=q,
        limit=limit,
        offset=offset,
    )
    return [p.name for p in found]


def _listed(database: Database) -> int:
    with database.engine.connect() as conn:
        query = text("SELECT count(*) FROM audit_events WHERE subtype = 'patient.list'")
        return int(conn.execute(query).scalar_one())


def test_matching_ignores_case_and_looks_at_the_name_and_the_email(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    make.patient(doc, name="Ada LOVELACE", email="ada@Example.ORG")
    make.patient(doc, name="Grace Hopper")
    assert _search(database, _caller(doc), "lovelace") == ["Ada LOVELACE"]
    assert _search(database, _caller(doc), "ADA@example") == ["Ada LOVELACE"]
    # The LIKE wildcards are text like any other.
    assert _search(database, _caller(doc), "%") == []
    assert _search(database, _caller(doc), "_") == []


def test_a_clinician_finds_only_their_care_teams_patients(
    make: Builders, database: Database
) -> None:
    doc, other = make.clinician(), make.clinician()
    make.patient(doc, name="Ada Lovelace")
    make.patient(doc, name="Grace Hopper", email="grace.h@example.org")
    make.patient(other, name="Ada Byron")
    assert _search(database, _caller(doc), "ADA") == ["Ada Lovelace"]
    assert _search(database, _caller(doc), "grace.h@") == ["Grace Hopper"]
    assert _search(database, _caller(doc), "  ") == ["Ada Lovelace", "Grace Hopper"]
    assert _search(database, _caller(doc), "nobody") == []


def test_an_administrator_finds_every_patient(make: Builders, database: Database) -> None:
    doc, other, admin = make.clinician(), make.clinician(), make.admin()
    make.patient(doc, name="Ada Lovelace")
    make.patient(other, name="Ada Byron")
    assert _search(database, _caller(admin, Role.ADMIN), "ada") == ["Ada Byron", "Ada Lovelace"]


def test_pages_of_matches_and_each_shown_patient_is_audited(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    for name in ("Ann A", "Bob", "Ann B", "Cid", "Ann C", "Ann D"):
        make.patient(doc, name=name)
    before = _listed(database)
    assert _search(database, _caller(doc), "ann", limit=2, offset=1) == ["Ann B", "Ann C"]
    assert _listed(database) == before + 2
    assert _search(database, _caller(doc), "ann", limit=2, offset=4) == []
    assert _listed(database) == before + 2


def test_a_patient_finds_only_themself(make: Builders, database: Database) -> None:
    doc = make.clinician()
    pat = make.patient(doc, name="Ada Lovelace")
    make.patient(doc, name="Ada Byron")
    assert _search(database, _caller(pat, Role.PATIENT), "ada") == ["Ada Lovelace"]
    assert _search(database, _caller(pat, Role.PATIENT), "byron") == []


def test_the_api_takes_the_same_search(make: Builders) -> None:
    doc = make.clinician()
    make.patient(doc, name="Ada Lovelace")
    make.patient(doc, name="Grace Hopper")
    r = make.client.get("/v1/patients", query_string={"q": "HOPP"}, headers=doc.headers)
    assert r.status_code == 200
    assert [p["name"] for p in r.get_json()] == ["Grace Hopper"]
    r = make.client.get("/v1/patients", query_string={"q": "x" * 255}, headers=doc.headers)
    assert r.status_code == 422
    assert "query.q" in r.get_json()["errors"]
