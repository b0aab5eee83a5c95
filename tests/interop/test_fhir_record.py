"""FHIR MedicationAdministration, DetectedIssue and AuditEvent: the dose log, the
record's findings and the audit trail as FHIR R4 resources, each validated with the
R4B models of `fhir.resources`, read with the JSON API's access rules."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir_core.fhirabstractmodel import FHIRAbstractModel

from service.config import Settings
from service.interop.fhir.extensions import code_system, structure
from tests.conftest import Account, Builders, FrozenClock, settings_for

FHIR = "/fhir/R4"
SKIPPED_BECAUSE = "Felt sick that morning."


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The clock moves through days of doses; tokens outlive it.
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def _bundle(r: Any, model: type[FHIRAbstractModel]) -> list[dict[str, Any]]:
    """The searchset's resources, each validated with its R4B model."""
    assert r.status_code == 200, r.get_json()
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body = r.get_json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset"
    resources = [e["resource"] for e in body.get("entry", ())]
    for resource in resources:
        model.model_validate(resource)
    return resources


def _iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _dose_log(make: Builders, clock: FrozenClock) -> tuple[Account, Account, dict[str, Any]]:
    """Escitalopram at 08:00 for three days: the first dose taken, the second skipped
    with a reason, the third never logged (missed); the next days' doses planned."""
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    base = f"/v1/patients/{pat.patient_id}/doses"
    window = {"from": clock().isoformat(), "to": (clock() + dt.timedelta(days=3)).isoformat()}
    planned = make.client.get(base, query_string=window, headers=pat.headers).json
    assert planned is not None
    assert len(planned) >= 3, planned
    first, second, third = planned[:3]
    # A day later, planning (as the scheduler does) has made the third dose's row.
    clock.now = _iso(second["scheduled_at"])
    assert make.client.get(base, query_string=window, headers=pat.headers).status_code == 200
    clock.now = _iso(third["scheduled_at"]) + dt.timedelta(hours=3)
    r = make.client.post(f"/v1/doses/{first['id']}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.json
    r = make.client.post(
        f"/v1/doses/{second['id']}/skipped", json={"reason": SKIPPED_BECAUSE}, headers=pat.headers
    )
    assert r.status_code == 200, r.json
    return doc, pat, {"rx": rx, "doses": (first, second, third)}


def test_the_dose_log_as_medication_administrations(make: Builders, clock: FrozenClock) -> None:
    doc, pat, story = _dose_log(make, clock)
    first, second, third = story["doses"]
    r = make.client.get(
        f"{FHIR}/MedicationAdministration",
        query_string={"patient": pat.patient_id},
        headers=doc.headers,
    )
    found = {a["id"]: a for a in _bundle(r, MedicationAdministration)}
    # Only doses with an outcome: later ones are planned, not administrations.
    assert set(found) == {first["id"], second["id"], third["id"]}
    taken, skipped, missed = found[first["id"]], found[second["id"]], found[third["id"]]
    assert taken["status"] == "completed"
    assert _iso(taken["effectiveDateTime"]) == clock()  # logged now, as taken
    assert taken["request"] == {"reference": f"MedicationRequest/{story['rx']['id']}"}
    assert taken["subject"] == {"reference": f"Patient/{pat.patient_id}"}
    assert taken["medicationCodeableConcept"]["text"] == "escitalopram"
    assert taken["dosage"]["dose"] == {
        "value": 10.0,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert taken["extension"] == [
        {"url": structure("dose-scheduled-at"), "valueDateTime": first["scheduled_at"]}
    ]
    outcome = code_system("dose-outcome")
    assert skipped["status"] == "not-done"
    (reason,) = skipped["statusReason"]
    assert reason["text"] == SKIPPED_BECAUSE
    assert reason["coding"][0]["system"] == outcome
    assert reason["coding"][0]["code"] == "skipped"
    assert missed["status"] == "not-done"
    assert missed["statusReason"][0]["coding"][0]["code"] == "missed"
    assert _iso(missed["effectiveDateTime"]) == _iso(third["scheduled_at"])


def test_one_administration_is_read_by_its_id(make: Builders, clock: FrozenClock) -> None:
    doc, pat, story = _dose_log(make, clock)
    first = story["doses"][0]
    r = make.client.get(f"{FHIR}/MedicationAdministration/{first['id']}", headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    read = MedicationAdministration.model_validate(r.get_json())
    assert read.status == "completed"
    # A dose still planned is not an administration.
    window = {"from": clock().isoformat(), "to": (clock() + dt.timedelta(days=2)).isoformat()}
    later = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses", query_string=window, headers=pat.headers
    ).json
    assert later
    planned = [d for d in later if d["status"] == "pending"]
    assert planned
    r = make.client.get(f"{FHIR}/MedicationAdministration/{planned[0]['id']}", headers=doc.headers)
    assert r.status_code == 404
    assert r.get_json()["resourceType"] == "OperationOutcome"


def test_effective_time_and_paging(make: Builders, clock: FrozenClock) -> None:
    _doc, pat, story = _dose_log(make, clock)
    first, second, third = story["doses"]
    url = f"{FHIR}/MedicationAdministration"
    since = f"ge{second['scheduled_at'].replace('+00:00', 'Z')}"
    r = make.client.get(
        url, query_string={"patient": pat.patient_id, "effective-time": since}, headers=pat.headers
    )
    # The first dose was taken now, so it is inside the window too: taken is when taken.
    assert {a["id"] for a in _bundle(r, MedicationAdministration)} == {
        first["id"],
        second["id"],
        third["id"],
    }
    before = f"lt{_iso(second['scheduled_at']).isoformat().replace('+00:00', 'Z')}"
    r = make.client.get(
        url, query_string={"patient": pat.patient_id, "effective-time": before}, headers=pat.headers
    )
    assert _bundle(r, MedicationAdministration) == []
    r = make.client.get(
        url, query_string={"patient": pat.patient_id, "_count": 1}, headers=pat.headers
    )
    body = r.get_json()
    assert body["total"] == 3
    assert len(body["entry"]) == 1
    (following,) = [link["url"] for link in body["link"] if link["relation"] == "next"]
    assert "_offset=1" in following
    # Unreadable dates, and dates at the calendar's end (where a day more cannot be
    # computed), are a 400 naming the parameter, never a 500.
    for name, value in (
        ("effective-time", "soon"),
        ("effective-time", ""),
        ("effective-time", "gt9999-12-31T23:59:59Z"),
        ("effective-time", "eq9999-12-31"),
        ("effective-time", "le0001-01-01"),
        ("_count", "\uff11"),
        ("_count", "1" * 5000),
    ):
        bad = make.client.get(
            url, query_string={"patient": pat.patient_id, name: value}, headers=pat.headers
        )
        assert bad.status_code == 400, (value, bad.get_json())
        outcome = bad.get_json()
        assert outcome["issue"][-1]["expression"] == [f"query.{name}"]
        assert len(json.dumps(outcome)) < 1000, "an error quotes the caller's value cut short"


def test_findings_as_detected_issues(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    base = f"/v1/patients/{pat.patient_id}"
    product = make.client.post(
        f"{base}/reported-products", json={"name": "St John's wort"}, headers=pat.headers
    ).json
    assert product is not None
    (major,) = [f for f in product["findings"] if f["severity"] == "major"]
    r = make.client.post(
        f"{base}/findings/{major['id']}/acknowledge",
        json={"reason": "Patient stopping it this week."},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.json
    query = {"patient": f"Patient/{pat.patient_id}"}
    r = make.client.get(f"{FHIR}/DetectedIssue", query_string=query, headers=doc.headers)
    issues = {i["id"]: i for i in _bundle(r, DetectedIssue)}
    issue = issues[major["id"]]
    assert issue["status"] == "final"
    assert issue["severity"] == "high"
    assert issue["extension"] == [{"url": structure("finding-severity"), "valueCode": "major"}]
    assert issue["code"]["coding"] == [{"system": code_system("finding-kind"), "code": "drug-drug"}]
    assert {"reference": f"MedicationRequest/{rx['id']}", "display": "escitalopram"} in issue[
        "implicated"
    ]
    assert "Sources:" in issue["detail"]
    (mitigation,) = issue["mitigation"]
    assert mitigation["action"]["coding"][0]["code"] == "acknowledged"
    assert mitigation["action"]["text"] == "Patient stopping it this week."
    assert mitigation["author"] == {
        "type": "Practitioner",
        "identifier": {"system": "https://medtrack.dev/fhir/identifier/user", "value": str(doc.id)},
    }
    # The patient reads the same finding in their words, without the clinician's reason.
    r = make.client.get(f"{FHIR}/DetectedIssue", query_string=query, headers=pat.headers)
    mine = {i["id"]: i for i in _bundle(r, DetectedIssue)}[major["id"]]
    assert "text" not in mine["mitigation"][0]["action"]
    assert "Mechanism:" not in mine.get("detail", "")


@pytest.mark.parametrize(
    ("severity", "fhir"),
    [("contraindicated", "high"), ("major", "high"), ("moderate", "moderate"), ("minor", "low")],
)
def test_the_severity_mapping(severity: str, fhir: str) -> None:
    from service.domain.severity import Severity
    from service.interop.fhir.detected_issues import SEVERITY

    assert SEVERITY[Severity(severity)] == fhir
    assert set(SEVERITY) == set(Severity)


def test_the_audit_trail_as_audit_events(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    query = {"patient": pat.patient_id}
    r = make.client.get(f"{FHIR}/AuditEvent", query_string=query, headers=doc.headers)
    events = _bundle(r, AuditEvent)
    created = [e for e in events if e["subtype"][0]["code"] == "prescription.create"]
    assert len(created) == 1
    (event,) = created
    assert event["action"] == "C"
    assert event["outcome"] == "0"
    (agent,) = event["agent"]
    assert agent["requestor"] is True
    assert agent["who"]["identifier"]["value"] == str(doc.id)
    assert agent["network"] == {"address": "127.0.0.1", "type": "2"}
    assert event["source"]["observer"] == {"display": "medtrack"}
    assert {"reference": f"Patient/{pat.patient_id}"} in [x["what"] for x in event["entity"]]
    assert f"MedicationRequest/{rx['id']}" in [x["what"].get("reference") for x in event["entity"]]
    r = make.client.get(
        f"{FHIR}/AuditEvent", query_string={**query, "_count": 1}, headers=doc.headers
    )
    page = r.get_json()
    assert len(page["entry"]) == 1
    assert page["total"] > 1
    assert [link["relation"] for link in page["link"]] == ["self", "next"]
    # As on /v1: a patient does not read their own audit trail.
    r = make.client.get(f"{FHIR}/AuditEvent", query_string=query, headers=pat.headers)
    assert r.status_code == 403
    assert r.get_json()["resourceType"] == "OperationOutcome"


def test_a_search_needs_its_patient_and_refuses_unknown_parameters(make: Builders) -> None:
    doc = make.clinician()
    for kind in ("MedicationAdministration", "DetectedIssue", "AuditEvent"):
        r = make.client.get(f"{FHIR}/{kind}", headers=doc.headers)
        assert r.status_code == 400, kind
        assert r.get_json()["issue"][-1]["expression"] == ["query.patient"]
        r = make.client.get(
            f"{FHIR}/{kind}",
            query_string={"patient": uuid.uuid4(), "colour": "red"},
            headers=doc.headers,
        )
        assert r.status_code == 400
        assert r.get_json()["issue"][-1]["expression"] == ["query.colour"]
        r = make.client.get(
            f"{FHIR}/{kind}", query_string={"patient": uuid.uuid4()}, headers=doc.headers
        )
        assert r.status_code == 404
