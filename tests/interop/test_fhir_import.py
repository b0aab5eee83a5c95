"""FHIR import: a MedicationRequest posted by an EHR (alone, or in a transaction
Bundle) is prescribed through the same use case as /v1: the same access rule, the
same findings gating it (409 OperationOutcome, answered by medtrack's acknowledgement
and override extensions), the same stored record and audit. Every error is an
OperationOutcome valid under the R4 models of fhir.resources (R4B)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from werkzeug.test import TestResponse

from service.interop.coding import ATC, RXNORM
from service.interop.fhir.orders import ACKNOWLEDGEMENT, FINDING_KEYS, OVERRIDE
from tests.conftest import Account, Builders

BASE = "/fhir/R4"
FHIR_JSON = "application/fhir+json"
Count = Callable[[str], int]
STORED = ("prescriptions", "prescription_versions", "prescription_findings")


def order(pat: Account, drug: str = "escitalopram", amount: float = 10, **extra: Any) -> Any:
    """A MedicationRequest for 'drug', daily at 08:00 from 2026-01-05, as
    service/interop/fhir/dosage.py writes one."""
    body: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{pat.patient_id}"},
        "medicationCodeableConcept": {"text": drug},
        "dosageInstruction": [
            {
                "sequence": 1,
                "text": f"{amount} mg at 08:00 every day",
                "patientInstruction": "with food",
                "timing": {
                    "repeat": {
                        "boundsPeriod": {"start": "2026-01-05"},
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "timeOfDay": ["08:00:00"],
                    }
                },
                "route": {
                    "coding": [{"system": "http://snomed.info/sct", "code": "26643006"}],
                    "text": "oral",
                },
                "doseAndRate": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/dose-rate-type",
                                    "code": "ordered",
                                }
                            ]
                        },
                        "doseQuantity": {
                            "value": amount,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        },
                    }
                ],
            }
        ],
    }
    body.update(extra)
    return body


def rxcui(make: Builders, drug: str) -> str:
    code = make.app.extensions["medtrack"].knowledge.catalog.drugs[drug].rxcui
    assert code, drug
    return str(code)


def coded(make: Builders, drug: str, text: str | None = None) -> dict[str, Any]:
    """A medication coded by its RxNorm ingredient code, with `text` if given."""
    concept: dict[str, Any] = {"coding": [{"system": RXNORM, "code": rxcui(make, drug)}]}
    if text is not None:
        concept["text"] = text
    return concept


def post(make: Builders, who: Account, body: Any, path: str = "/MedicationRequest") -> TestResponse:
    data = body if isinstance(body, str) else json.dumps(body)
    return make.client.post(BASE + path, data=data, content_type=FHIR_JSON, headers=who.headers)


def refused(r: TestResponse, status: int) -> list[dict[str, Any]]:
    """The issues of an OperationOutcome answered with `status`, checked against R4B."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith(FHIR_JSON)
    body: dict[str, Any] = r.get_json()
    OperationOutcome.model_validate(body)
    return body["issue"]  # type: ignore[no-any-return]


def stored(count_rows: Count) -> dict[str, int]:
    return {table: count_rows(table) for table in STORED}


def finding_issue(issues: list[dict[str, Any]], severity: str) -> dict[str, Any]:
    picked = [i for i in issues if i.get("extension", [{}])[0].get("valueCode") == severity]
    assert len(picked) == 1, issues
    assert picked[0]["details"]["coding"][0]["system"] == FINDING_KEYS
    return picked[0]


def audit(make: Builders, doc: Account, pat: Account, subtype: str) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit?limit=200", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    return [e for e in r.get_json() if e["subtype"] == subtype]


def v1_prescriptions(make: Builders, doc: Account, pat: Account) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def mitigation(make: Builders, doc: Account, pat: Account, key: str) -> tuple[str, str, str]:
    """How the patient's DetectedIssue for this finding says it was answered."""
    r = make.client.get(f"/fhir/R4/DetectedIssue?patient={pat.patient_id}", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    [issue] = [e["resource"] for e in r.get_json()["entry"] if e["resource"]["id"] == key]
    [answer] = issue["mitigation"]
    action = answer["action"]
    return action["coding"][0]["code"], action["text"], answer["author"]["identifier"]["value"]


def test_a_posted_order_is_prescribed_as_on_v1_and_reads_back_with_the_same_dosage(
    make: Builders,
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    posted = order(pat)
    r = post(make, doc, posted)
    assert r.status_code == 201, r.get_json()
    created: dict[str, Any] = r.get_json()
    MedicationRequest.model_validate(created)
    assert r.headers["Location"].endswith(f"{BASE}/MedicationRequest/{created['id']}/_history/1")

    # The same terms as the same order made on /v1.
    [rx] = v1_prescriptions(make, doc, pat)
    twin = make.prescription(doc, make.patient(doc))
    terms = ("drug_id", "dose", "route", "schedule", "start_date", "end_date", "instructions")
    assert {k: rx[k] for k in terms} == {k: twin[k] for k in terms}
    assert rx["id"] == created["id"]
    [entry] = audit(make, doc, pat, "prescription.create")
    assert entry["entity"]["id"] == rx["id"]
    assert entry["agent"]["who"] == str(doc.id)

    # Read back, the dosage is the one posted.
    back = make.client.get(f"{BASE}/MedicationRequest/{rx['id']}", headers=doc.headers)
    assert back.status_code == 200, back.get_json()
    [dosage] = back.get_json()["dosageInstruction"]
    [sent] = posted["dosageInstruction"]
    assert dosage["timing"] == sent["timing"]
    assert dosage["doseAndRate"][0]["doseQuantity"] == sent["doseAndRate"][0]["doseQuantity"]
    assert dosage["patientInstruction"] == sent["patientInstruction"]


def test_what_medtrack_serves_it_takes_back_unchanged(make: Builders) -> None:
    """Round trip of the other schedule kinds: as needed, weekdays, every n days and
    an amount at each time (several dosages of one sequence)."""
    doc = make.clinician()
    schedules: list[dict[str, Any]] = [
        {"times": [], "as_needed": True, "max_doses_per_day": 3, "min_hours_between": 6},
        {"times": ["08:00", "20:00"], "days_of_week": ["mon", "thu"]},
        {"times": ["09:30"], "every_n_days": 2},
        {"times": ["08:00", "20:00"], "amounts": [5, 2.5]},
    ]
    for schedule in schedules:
        pat = make.patient(doc)
        source = make.prescription(
            doc,
            pat,
            drug="diazepam",
            dose={"amount": 5, "unit": "mg"},
            schedule=schedule,
            end_date="2026-03-01",
        )
        served = make.client.get(f"{BASE}/MedicationRequest/{source['id']}", headers=doc.headers)
        resource = served.get_json()
        for name in ("id", "meta", "identifier", "authoredOn", "requester"):
            resource.pop(name, None)
        # To another patient, so that the copy is no duplicate of the source.
        other = make.patient(doc)
        resource["subject"] = {"reference": f"Patient/{other.patient_id}"}
        r = post(make, doc, resource)
        assert r.status_code == 201, (schedule, r.get_json())
        [copy_] = v1_prescriptions(make, doc, other)
        for name in ("dose", "route", "schedule", "start_date", "end_date", "drug_id"):
            assert copy_[name] == source[name], (name, copy_[name], source[name])


def test_a_contraindicated_combination_is_refused_then_prescribed_with_the_override(
    make: Builders, count_rows: Count
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    before = stored(count_rows)

    issues = refused(post(make, doc, order(pat, "phenelzine", 15)), 409)
    assert issues[0]["code"] == "conflict"
    assert OVERRIDE in issues[0]["diagnostics"]
    finding = finding_issue(issues, "contraindicated")
    assert finding["expression"] == ["MedicationRequest.medicationCodeableConcept"]
    assert "phenelzine with sertraline" in finding["diagnostics"]
    assert "Serotonin syndrome" in finding["diagnostics"]
    assert OVERRIDE in finding["diagnostics"]
    key = finding["details"]["coding"][0]["code"]
    assert stored(count_rows) == before

    # An acknowledgement does not answer a contraindication (as on /v1).
    ack = [{"url": ACKNOWLEDGEMENT, "valueString": key}]
    refused(post(make, doc, order(pat, "phenelzine", 15, extension=ack)), 409)
    assert stored(count_rows) == before

    # Coded by RxNorm as an EHR sends it, the same finding is answered by the override.
    reason = "Supervised cross-taper agreed with psychiatry"
    answered = order(
        pat,
        "phenelzine",
        15,
        medicationCodeableConcept=coded(make, "phenelzine"),
        extension=[{"url": OVERRIDE, "valueString": reason}],
    )
    r = post(make, doc, answered)
    assert r.status_code == 201, r.get_json()
    rx = next(p for p in v1_prescriptions(make, doc, pat) if p["id"] == r.get_json()["id"])
    assert (rx["drug"], rx["drug_id"]) == ("phenelzine", "phenelzine")
    kept = next(f for f in rx["findings"] if f["id"] == key)
    assert (kept["resolution"], kept["reason"]) == ("overridden", reason)
    [entry] = audit(make, doc, pat, "prescription.interaction-override")
    assert entry["entity"]["id"] == rx["id"]
    assert entry["after"]["reason"] == reason
    # The EHR reads the finding back as overridden, by whom and why.
    assert mitigation(make, doc, pat, key) == ("overridden", reason, str(doc.id))


def test_a_major_finding_is_prescribed_once_acknowledged_by_its_key(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})

    issues = refused(post(make, doc, order(pat, "tramadol", 50)), 409)
    finding = finding_issue(issues, "major")
    key = finding["details"]["coding"][0]["code"]
    assert ACKNOWLEDGEMENT in finding["diagnostics"]
    assert key in finding["diagnostics"]

    wrong = [{"url": ACKNOWLEDGEMENT, "valueString": "not-a-finding"}]
    refused(post(make, doc, order(pat, "tramadol", 50, extension=wrong)), 409)
    ack = [{"url": ACKNOWLEDGEMENT, "valueString": key}]
    r = post(make, doc, order(pat, "tramadol", 50, extension=ack))
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    MedicationRequest.model_validate(created)
    # What did not stop it is in the answer, as /v1's answer shows it: the finding,
    # contained, as acknowledged by the prescriber.
    [issue] = [c for c in created["contained"] if c["id"] == key]
    assert {"reference": f"#{key}"} in created["detectedIssue"]
    assert (issue["severity"], issue["mitigation"][0]["action"]["coding"][0]["code"]) == (
        "high",
        "acknowledged",
    )
    rx = next(p for p in v1_prescriptions(make, doc, pat) if p["id"] == created["id"])
    assert next(f for f in rx["findings"] if f["id"] == key)["resolution"] == "acknowledged"
    assert len(audit(make, doc, pat, "prescription.interaction-acknowledge")) == 1
    assert mitigation(make, doc, pat, key)[0] == "acknowledged"


def test_an_unresolvable_medication_is_422_naming_each_code(
    make: Builders, count_rows: Count
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    concept = {
        "coding": [
            {"system": RXNORM, "code": "99999999"},
            {"system": "http://example.org/local-drugs", "code": "X-1"},
        ],
        "text": "Notarealdrugium",
    }
    issues = refused(post(make, doc, order(pat, medicationCodeableConcept=concept)), 422)
    named = [i["diagnostics"] for i in issues if i["code"] == "code-invalid"]
    assert all(
        i["expression"] == ["MedicationRequest.medicationCodeableConcept"]
        for i in issues
        if i.get("expression")
    )
    assert any(f"{RXNORM}|99999999" in d for d in named), named
    assert any("http://example.org/local-drugs|X-1" in d for d in named), named
    assert count_rows("prescriptions") == 0

    # Codes and names that name different drugs are not guessed between: the order
    # would be screened as a drug other than the one meant.
    phenelzine_atc = make.app.extensions["medtrack"].knowledge.catalog.drugs["phenelzine"].atc
    atc = {"system": ATC, "code": phenelzine_atc}
    for mixed in (
        coded(make, "phenelzine", "sertraline"),
        {"coding": [{**coded(make, "atorvastatin")["coding"][0]}, atc]},
        {
            "coding": [
                {"system": RXNORM, "code": "99999999", "display": "phenelzine 15 MG Oral Tablet"}
            ],
            "text": "atorvastatin",
        },
    ):
        issues = refused(post(make, doc, order(pat, medicationCodeableConcept=mixed)), 422)
        [conflict] = [i for i in issues if "different drugs" in i["diagnostics"]]
        assert conflict["expression"] == ["MedicationRequest.medicationCodeableConcept"]
        assert "phenelzine" in conflict["diagnostics"], conflict
    assert count_rows("prescriptions") == 0


def test_only_a_clinician_of_the_care_team_prescribes_and_refusals_are_audited(
    make: Builders, count_rows: Count
) -> None:
    doc, outsider = make.clinician(), make.clinician()
    pat = make.patient(doc)
    refused(post(make, pat, order(pat)), 403)
    refused(post(make, outsider, order(pat)), 404)
    r = make.client.post(
        BASE + "/MedicationRequest", data=json.dumps(order(pat)), content_type=FHIR_JSON
    )
    refused(r, 401)
    assert count_rows("prescriptions") == 0
    denied = audit(make, doc, pat, "access.denied")
    assert {e["agent"]["who"] for e in denied} == {str(pat.id), str(outsider.id)}


def test_what_medtrack_cannot_hold_is_refused_naming_the_element(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    refused(post(make, doc, "{not json"), 400)
    # A retry-safe create medtrack cannot honour here is refused, never run as a plain
    # create that a retry would repeat.
    for header, value in (
        ("If-None-Exist", "identifier=http://ehr.example|1"),
        ("Idempotency-Key", "k-1"),
    ):
        for path in ("/MedicationRequest", ""):
            keyed = make.client.post(
                BASE + path,
                data=json.dumps(order(pat) if path else bundle(order(pat))),
                content_type=FHIR_JSON,
                headers={**doc.headers, header: value},
            )
            [*_, named] = refused(keyed, 400)
            assert named["expression"] == [header]
    assert v1_prescriptions(make, doc, pat) == []
    refused(post(make, doc, {"resourceType": "Patient"}), 400)
    refused(post(make, doc, []), 400)
    refused(post(make, doc, [], ""), 400)
    refused(post(make, doc, {**bundle(order(pat)), "type": "batch"}, ""), 422)
    too_many = bundle(*[order(pat)] * 101)
    issues = refused(post(make, doc, too_many, ""), 422)
    assert any(i.get("expression") == ["Bundle.entry"] for i in issues)
    plain = make.client.post(
        BASE + "/MedicationRequest", data="x", content_type="text/plain", headers=doc.headers
    )
    refused(plain, 415)
    cases: list[tuple[dict[str, Any], str]] = []
    missing = order(pat)
    del missing["subject"]
    cases.append((missing, "MedicationRequest.subject"))
    cases.append((order(pat, note=[{"text": "x"}]), "MedicationRequest.note"))
    cases.append((order(pat, modifierExtension=[]), "MedicationRequest.modifierExtension"))
    cases.append((order(pat, status="draft"), "MedicationRequest.status"))
    counted = order(pat)
    counted["dosageInstruction"][0]["timing"]["repeat"]["count"] = 10
    cases.append((counted, "MedicationRequest.dosageInstruction[0].timing.repeat.count"))
    hourly = order(pat)
    hourly["dosageInstruction"][0]["timing"]["repeat"].update(period=8, periodUnit="h")
    cases.append((hourly, "MedicationRequest.dosageInstruction[0].timing.repeat.periodUnit"))
    wrong_frequency = order(pat)
    wrong_frequency["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = 2
    cases.append(
        (wrong_frequency, "MedicationRequest.dosageInstruction[0].timing.repeat.frequency")
    )
    taper = order(pat)
    second = copy.deepcopy(taper["dosageInstruction"][0])
    second["sequence"] = 2
    taper["dosageInstruction"].append(second)
    cases.append((taper, "MedicationRequest.dosageInstruction[1].sequence"))
    strange = order(pat, extension=[{"url": "http://example.org/x", "valueString": "y"}])
    cases.append((strange, "MedicationRequest.extension[0]"))
    too_much = order(pat, amount=50000)
    cases.append(
        (too_much, "MedicationRequest.dosageInstruction[0].doseAndRate[0].doseQuantity.value")
    )
    for body, element in cases:
        issues = refused(post(make, doc, body), 422)
        assert any(element in i.get("expression", []) for i in issues), (element, issues)
    assert (
        make.client.get(
            f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers
        ).get_json()
        == []
    )


def bundle(*resources: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:0000000{i}-0000-4000-8000-000000000000",
                "resource": resource,
                "request": {"method": "POST", "url": "MedicationRequest"},
            }
            for i, resource in enumerate(resources)
        ],
    }


def test_a_transaction_is_all_or_nothing(make: Builders, count_rows: Count) -> None:
    doc, other = make.clinician(), make.clinician()
    pat = make.patient(doc)
    stranger = make.patient(other)
    before = stored(count_rows)
    audited = count_rows("audit_events")

    # The second entry is contraindicated with the first: nothing of the first stays.
    issues = refused(
        post(make, doc, bundle(order(pat, "sertraline", 50), order(pat, "phenelzine", 15)), ""), 409
    )
    assert finding_issue(issues, "contraindicated")["expression"] == [
        "Bundle.entry[1].resource.medicationCodeableConcept"
    ]
    assert stored(count_rows) == before
    assert count_rows("audit_events") == audited

    # The second entry's patient is not the caller's: refused (404, audited), none kept.
    refused(post(make, doc, bundle(order(pat), order(stranger)), ""), 404)
    assert stored(count_rows) == before
    assert len(audit(make, other, stranger, "access.denied")) == 1

    # An entry that cannot be read refuses the whole Bundle before anything is written.
    issues = refused(post(make, doc, bundle(order(pat), order(pat, status="draft")), ""), 422)
    assert any("Bundle.entry[1].resource.status" in i.get("expression", []) for i in issues)

    r = post(make, doc, bundle(order(pat), order(pat, "metformin", 500)), "")
    assert r.status_code == 200, r.get_json()
    answer: dict[str, Any] = r.get_json()
    Bundle.model_validate(answer)
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created"] * 2
    ids = {p["id"] for p in v1_prescriptions(make, doc, pat)}
    assert {e["resource"]["id"] for e in answer["entry"]} == ids
    for e in answer["entry"]:
        assert e["response"]["location"] == f"MedicationRequest/{e['resource']['id']}/_history/1"
    assert count_rows("prescriptions") == before["prescriptions"] + 2


def test_the_capability_statement_declares_create_and_transaction(make: Builders) -> None:
    r = make.client.get(f"{BASE}/metadata")
    assert r.status_code == 200, r.get_json()
    [rest] = r.get_json()["rest"]
    assert {"code": "transaction"} in rest["interaction"]
    [resource] = [x for x in rest["resource"] if x["type"] == "MedicationRequest"]
    assert {"code": "create"} in resource["interaction"]


def paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every element's path in a JSON value, containers included."""
    out = [here] if here else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += paths(child, (*here, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out += paths(child, (*here, i))
    return out


DOSAGE = ("dosageInstruction", 0)
HARMLESS = {
    ((*DOSAGE, "text"), "x"),
    ((*DOSAGE, "patientInstruction"), "x"),
    ((*DOSAGE, "route", "coding", 0, "system"), "x"),
    ((*DOSAGE, "route", "text"), "x"),
    ((*DOSAGE, "doseAndRate", 0, "doseQuantity", "unit"), "x"),
    (("extension", 0, "valueString"), "x"),
}


def test_any_element_replaced_by_junk_is_refused_as_an_operation_outcome(
    make: Builders, count_rows: Count
) -> None:
    """Never a 500 and never a prescription from a malformed order: each element in
    turn replaced by a value of the wrong shape."""
    doc = make.clinician()
    pat = make.patient(doc)
    template = order(pat, extension=[{"url": ACKNOWLEDGEMENT, "valueString": "k"}])
    junk: list[Any] = [None, [], {}, "x", 0, -1.5, True, [[]], {"a": 1}]
    for path in paths(template):
        for value in junk:
            body = copy.deepcopy(template)
            target = body
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            r = post(make, doc, body)
            if r.status_code in (201, 409):
                # Taken (then refused as a duplicate of the first taken): text that
                # only displays what the codes say, an instruction in words, or the
                # acknowledgement of a finding there is not.
                assert (path, value) in HARMLESS, (path, value, r.status_code)
                continue
            refused(r, r.status_code)
            assert r.status_code in (400, 422), (path, value, r.get_json())
    assert count_rows("prescriptions") == 1
