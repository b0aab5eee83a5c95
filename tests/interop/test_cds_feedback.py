"""Feedback on the CDS Hooks service's cards, and the identifiers that link an EHR's
patient to a medtrack patient."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from service.usecases.patient_identifiers import MAX_IDENTIFIERS
from tests.conftest import Builders, settings_for
from tests.interop.cds_helpers import (
    CLIENTS,
    EHR_RS,
    MRN,
    SERVICE,
    assert_cds_response,
    auth,
    call,
    med_request,
)

FEEDBACK = f"{SERVICE}/feedback"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, cds_clients=CLIENTS)


def _card(client: FlaskClient) -> dict[str, Any]:
    current = med_request("c", "sertraline", status="active")
    r = client.post(
        SERVICE, json=call([med_request("d", "tramadol")], current=[current]), headers=auth()
    )
    (card,) = assert_cds_response(r.get_json())
    return card


def _rows(database: Database, sql: str) -> list[Any]:
    with database.engine.connect() as conn:
        return list(conn.execute(text(sql)).all())


def test_an_override_with_its_reason_is_recorded_and_audited(
    client: FlaskClient, database: Database
) -> None:
    card = _card(client)
    reason = card["overrideReasons"][0]
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason, "userComment": "Low dose, reviewed."},
                "outcomeTimestamp": "2026-12-05T10:05:31Z",
            }
        ]
    }
    r = client.post(FEEDBACK, json=body, headers=auth(aud=FEEDBACK))
    assert r.status_code == 200, r.get_json()
    (row,) = _rows(database, "SELECT outcome, override_reason, user_comment FROM cds_feedback")
    assert row[0] == "overridden"
    assert "Low dose" in row[2]
    assert reason["code"] in str(row[1])
    (audit,) = _rows(
        database,
        "SELECT entity_id, actor_role FROM audit_events WHERE subtype LIKE 'cds.feedback%'",
    )
    assert audit == (card["uuid"], "cds-hooks")


def test_an_accepted_suggestion_is_recorded(client: FlaskClient, database: Database) -> None:
    card = _card(client)
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-12-05T10:05:31Z",
            }
        ]
    }
    assert client.post(FEEDBACK, json=body, headers=auth()).status_code == 200
    assert _rows(database, "SELECT outcome FROM cds_feedback") == [("accepted",)]


def test_feedback_on_a_card_not_issued_to_the_caller_is_404_and_not_recorded(
    client: FlaskClient, database: Database
) -> None:
    card = _card(client)
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2026-12-05T10:05:31Z",
    }
    unknown = {**item, "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719"}
    r = client.post(FEEDBACK, json={"feedback": [item, unknown]}, headers=auth())
    assert r.status_code == 404
    # Another EHR may not report on this one's cards.
    r = client.post(FEEDBACK, json={"feedback": [item]}, headers=auth(iss=EHR_RS))
    assert r.status_code == 404
    assert _rows(database, "SELECT id FROM cds_feedback") == []


def test_malformed_feedback_is_400(client: FlaskClient) -> None:
    card = _card(client)
    bad = {"card": card["uuid"], "outcome": "ignored", "outcomeTimestamp": "2026-12-05T10:05:31Z"}
    r = client.post(FEEDBACK, json={"feedback": [bad]}, headers=auth())
    assert r.status_code == 400
    assert "feedback[0].outcome" in r.get_json()["errors"]


def test_identifiers_link_one_patient_each_and_are_audited(
    make: Builders, database: Database
) -> None:
    doc, admin = make.clinician(), make.admin()
    one, two = make.patient(doc), make.patient(doc)
    body = {"system": MRN, "value": "MRN-77"}
    path = f"/v1/patients/{one.patient_id}/identifiers"
    assert make.client.post(path, json=body, headers=one.headers).status_code == 403
    r = make.client.post(path, json=body, headers=admin.headers)
    assert r.status_code == 201, r.get_json()
    assert [(i["system"], i["value"]) for i in r.get_json()] == [(MRN, "MRN-77")]
    r = make.client.post(
        f"/v1/patients/{two.patient_id}/identifiers", json=body, headers=doc.headers
    )
    assert r.status_code == 409
    r = make.client.post(path, json={"system": "not a uri", "value": "x"}, headers=doc.headers)
    assert r.status_code == 422
    r = make.client.get(path, headers=one.headers)
    assert [i["value"] for i in r.get_json()] == ["MRN-77"]
    subtypes = [s for (s,) in _rows(database, "SELECT subtype FROM audit_events")]
    assert subtypes.count("identifier.add") == 1
    assert "identifier.read" in subtypes


def test_a_patient_keeps_a_bounded_number_of_identifiers(make: Builders) -> None:
    doc = make.clinician()
    patient = make.patient(doc)
    path = f"/v1/patients/{patient.patient_id}/identifiers"
    for n in range(MAX_IDENTIFIERS):
        body = {"system": MRN, "value": f"MRN-{n}"}
        assert make.client.post(path, json=body, headers=doc.headers).status_code == 201
    r = make.client.post(path, json={"system": MRN, "value": "one-more"}, headers=doc.headers)
    assert r.status_code == 409
