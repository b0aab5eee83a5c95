"""The CDS Hooks service: discovery, the specification's own example calls, the
medication-safety cards (tramadol with sertraline, phenelzine), a patient linked to
medtrack's record, a stop of a withdrawal-risk drug, and drafts it cannot check."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from service.interop.cds.discovery import PREFETCH
from tests.conftest import Account, Builders, settings_for
from tests.interop.cds_helpers import (
    CLIENTS,
    MRN,
    SERVICE,
    assert_cds_response,
    auth,
    call,
    med_request,
    spec_example,
)

SERTRALINE = med_request("current-1", "Sertraline 50 MG Oral Tablet", status="active")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, cds_clients=CLIENTS)


def post(client: FlaskClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.post(SERVICE, json=body, headers=auth())
    assert r.status_code == 200, r.get_json()
    return assert_cds_response(r.get_json())


def test_discovery_lists_the_service_for_both_hooks_without_a_token(client: FlaskClient) -> None:
    r = client.get("/cds-services")
    assert r.status_code == 200
    services = r.get_json()["services"]
    assert [(s["id"], s["hook"]) for s in services] == [
        ("medtrack-medication-safety", "order-select"),
        ("medtrack-medication-safety", "order-sign"),
    ]
    for s in services:
        assert s["prefetch"] == PREFETCH
        assert s["title"]
        assert s["description"]


@pytest.mark.parametrize(
    ("name", "hook"), [("order-select", "order-select"), ("order-sign", "order-sign")]
)
def test_the_specifications_examples_get_well_formed_cards(
    client: FlaskClient, name: str, hook: str
) -> None:
    cards = post(client, spec_example(name, hook))
    assert cards, "the example's medications were neither checked nor reported"
    # No prefetch and no linked patient: the service says what it could not see.
    assert any("checked only against each other" in (c.get("detail") or "") for c in cards)


def test_tramadol_for_a_patient_on_sertraline_is_a_serotonergic_warning(
    client: FlaskClient,
) -> None:
    cards = post(
        client, call([med_request("draft-1", "Tramadol 50 MG Oral Tablet")], current=[SERTRALINE])
    )
    (card,) = [c for c in cards if c["indicator"] == "warning"]
    assert "tramadol" in card["summary"]
    assert "sertraline" in card["summary"]
    assert "serotonergic" in card["detail"].lower()
    assert "**Management.**" in card["detail"]
    assert "**Sources.**" in card["detail"]
    assert card["source"]["label"].startswith("medtrack knowledge base ")
    assert {r["code"] for r in card["overrideReasons"]} >= {"benefit-outweighs-risk"}
    assert (
        "**sertraline** (as sent: Sertraline 50 MG Oral Tablet; current medication, from the EHR)"
        in card["detail"]
    )
    assert card["suggestions"][0]["label"] == "Remove the draft order of tramadol"
    actions = card["suggestions"][0]["actions"]
    assert actions == [
        {
            "type": "delete",
            "description": "Remove the draft MedicationRequest/draft-1",
            "resourceId": "MedicationRequest/draft-1",
        }
    ]


def test_phenelzine_for_a_patient_on_sertraline_is_critical(client: FlaskClient) -> None:
    cards = post(
        client,
        call(
            [med_request("draft-2", "phenelzine 15 mg tablet")],
            current=[SERTRALINE],
            hook="order-sign",
        ),
    )
    assert cards[0]["indicator"] == "critical"
    assert "phenelzine" in cards[0]["summary"]


def test_a_draft_medtrack_cannot_resolve_gets_an_info_card(client: FlaskClient) -> None:
    cards = post(
        client,
        call([med_request("draft-3", "Zzyzx elixir", code="99999999")], current=[SERTRALINE]),
    )
    (card,) = cards
    assert card["indicator"] == "info"
    assert card["summary"] == "medtrack could not check: Zzyzx elixir"
    assert "99999999" in card["detail"]


def _linked(make: Builders, doc: Account, drug: str, mrn: str) -> Account:
    patient = make.patient(doc)
    make.prescription(doc, patient, drug=drug)
    r = make.client.post(
        f"/v1/patients/{patient.patient_id}/identifiers",
        json={"system": MRN, "value": mrn},
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    return patient


def test_a_linked_patient_is_checked_against_medtrack_s_record(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    patient = _linked(make, doc, "sertraline", "MRN-1")
    # No prefetch: the client's patient_system links context.patientId to the record.
    cards = post(make.client, call([med_request("d", "tramadol")], patient_id="MRN-1"))
    (card,) = cards
    assert card["indicator"] == "warning"
    assert "prescribed, in medtrack's record" in card["detail"]
    with database.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT action, patient_id FROM audit_events WHERE subtype = 'cds.check'")
        ).all()
        stored = conn.execute(text("SELECT patient_id, summary FROM cds_cards")).all()
    assert [(a, uuid.UUID(str(p))) for a, p in audit] == [("R", patient.patient_id)]
    assert [s for _, s in stored] == [card["summary"]]


def test_a_linked_patient_is_found_by_the_prefetched_patient_s_identifier(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    linked = _linked(make, doc, "sertraline", "MRN-2")
    patient = {
        "resourceType": "Patient",
        "id": "x9",
        "identifier": [{"system": MRN, "value": "MRN-2"}],
    }
    body = call([med_request("d", "tramadol")], patient_id="x9", patient=patient)
    # The client whose identifier system it is: linked through the prefetched Patient.
    r = make.client.post(SERVICE, json=body, headers=auth())
    (card,) = assert_cds_response(r.get_json())
    assert card["indicator"] == "warning"
    assert "prescribed, in medtrack's record" in card["detail"]
    # Another EHR sending the same identifier (another system's, not its own) links no
    # one: it cannot look up a patient the first EHR linked.
    r = make.client.post(SERVICE, json=body, headers=auth(iss="https://ehr-rs.example.org"))
    cards = assert_cds_response(r.get_json())
    assert all("medtrack's record" not in c["detail"] for c in cards), cards
    with database.engine.connect() as conn:
        audit = conn.execute(
            text("SELECT patient_id FROM audit_events WHERE subtype = 'cds.check' ORDER BY id")
        ).all()
    assert [None if p is None else uuid.UUID(str(p)) for (p,) in audit] == [
        linked.patient_id,
        None,
    ]


def test_stopping_a_withdrawal_risk_drug_offers_a_taper_with_the_planner(
    make: Builders,
) -> None:
    doc = make.clinician()
    patient = _linked(make, doc, "diazepam", "MRN-3")
    r = make.client.get(f"/v1/patients/{patient.patient_id}/prescriptions", headers=doc.headers)
    rx_id = r.get_json()[0]["id"]
    stop = med_request("stop-1", "Diazepam 5 MG Oral Tablet", status="stopped")
    cards = post(make.client, call([stop], patient_id="MRN-3", hook="order-sign"))
    (card,) = cards
    # Stopping it at once is what /v1 refuses without a reason: critical here too.
    assert card["indicator"] == "critical"
    assert "taper" in card["summary"].lower()
    assert card["links"] == [
        {
            "label": "Plan a diazepam taper in medtrack",
            "url": f"http://localhost/console/patients/{patient.patient_id}/tapers/new"
            f"?prescription={rx_id}",
            "type": "absolute",
        }
    ]
    assert card["suggestions"][0]["actions"][0]["resourceId"] == "MedicationRequest/stop-1"
    assert "Discontinuing stops the drug at once." in card["detail"]


def test_stopping_an_unlinked_patient_s_benzodiazepine_still_warns(client: FlaskClient) -> None:
    current = med_request("c", "diazepam", status="active")
    stop = med_request("stop-2", "diazepam", status="cancelled")
    (card,) = post(client, call([stop], current=[current]))
    assert card["indicator"] == "critical"
    assert "links" not in card


def test_a_malformed_call_is_400_naming_the_field(client: FlaskClient) -> None:
    body = call([med_request("d", "tramadol")])
    del body["context"]["draftOrders"]
    r = client.post(SERVICE, json=body, headers=auth())
    assert r.status_code == 400
    assert "context.draftOrders" in r.get_json()["errors"]


def test_malformed_elements_are_never_a_500(client: FlaskClient) -> None:
    """Elements of the wrong type: the call is refused naming them (400), or the
    medication they describe could not be checked, and a card says so."""
    junk: list[tuple[str, Any]] = [
        ("coding", 5),
        ("coding", [5, None]),
        ("contained", 5),
        ("medicationCodeableConcept", "tramadol"),
    ]
    for element, value in junk:
        draft = {**med_request("d", "tramadol"), element: value}
        r = client.post(SERVICE, json=call([draft]), headers=auth())
        assert r.status_code in (200, 400), (element, r.get_json())
        if element == "coding":
            draft = med_request("d", "tramadol")
            draft["medicationCodeableConcept"]["coding"] = value
            r = client.post(SERVICE, json=call([draft]), headers=auth())
            assert r.status_code == 200, r.get_json()
            # The drug is still read from its text; what could not be checked is said.
            (card,) = assert_cds_response(r.get_json())
            assert "checked these orders only in part" in card["summary"]
    patient = {"resourceType": "Patient", "id": "x", "identifier": 5}
    r = client.post(
        SERVICE, json=call([med_request("d", "tramadol")], patient=patient), headers=auth()
    )
    assert r.status_code == 400
    assert "prefetch.patient.identifier" in r.get_json()["errors"]


def test_the_longest_ids_a_call_may_carry_are_stored(client: FlaskClient) -> None:
    body = call([med_request("d", "Zzyzx elixir")], patient_id="p" * 255)
    body["hookInstance"] = "h" * 255
    (card,) = post(client, body)
    assert card["indicator"] == "info"
    body["hookInstance"] = "h" * 256
    assert client.post(SERVICE, json=body, headers=auth()).status_code == 400
