"""FHIR Patient and MedicationRequest over HTTP: the access rule of /v1 (the patient,
their care team, 404 and an audited refusal for anyone else), every served resource
valid under the R4 models of fhir.resources (R4B), the schedule kinds as Dosage,
versions in _history, and a taper plan as sequenced dosage instructions shaped as
the R4 example "Order for Tapering Dose" (fixtures/medicationrequest0303.json)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.dosage import Dosage
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.patient import Patient

from service.config import Settings
from service.domain.prescriptions import ROUTES, Schedule
from service.interop.fhir import dosage
from tests.api.test_taper_plans import STEEP, act, approval, create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for

BASE = "/fhir/R4"
EXAMPLE = json.loads(
    (Path(__file__).parent / "fixtures" / "medicationrequest0303.json").read_text()
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def get(make: Builders, who: Account, path: str, status: int = 200) -> dict[str, Any]:
    r = make.client.get(BASE + path, headers=who.headers)
    assert r.status_code == status, r.get_json()
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body: dict[str, Any] = r.get_json()
    return body


def refusals(make: Builders, doc: Account, pat: Account) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    return [e for e in r.get_json() if e["subtype"] == "access.denied"]


def test_the_patient_and_the_care_team_read_and_anyone_else_is_refused_and_audited(
    make: Builders,
) -> None:
    doc, outsider = make.clinician(), make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    for who in (pat, doc):
        patient = get(make, who, f"/Patient/{pat.patient_id}")
        Patient.model_validate(patient)
        assert patient["birthDate"] == "1975-04-12"
        assert patient["identifier"][0]["value"] == str(pat.patient_id)
        request = get(make, who, f"/MedicationRequest/{rx['id']}")
        MedicationRequest.model_validate(request)
        assert request["subject"] == {"reference": f"Patient/{pat.patient_id}"}
    paths = (
        f"/Patient/{pat.patient_id}",
        f"/MedicationRequest/{rx['id']}",
        f"/MedicationRequest?patient={pat.patient_id}",
        f"/MedicationRequest/{rx['id']}/_history",
    )
    for path in paths:
        outcome = get(make, outsider, path, 404)
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "not-found"
    denied = refusals(make, doc, pat)
    assert [e["outcome_desc"] for e in denied] == [
        f"404 GET {BASE}{p.split('?')[0]}" for p in paths
    ]
    assert {e["agent"]["who"] for e in denied} == {str(outsider.id)}
    get(make, doc, f"/MedicationRequest/{uuid.uuid4()}", 404)


def test_a_prescription_is_coded_and_its_schedule_is_a_timing(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    schedule = {
        "times": ["08:00", "20:00"],
        "every_n_days": 2,
        "days_of_week": None,
        "as_needed": False,
        "max_doses_per_day": None,
        "min_hours_between": None,
        "amounts": [10, 5],
    }
    rx = make.prescription(doc, pat, schedule=schedule, end_date="2026-03-01")
    body = get(make, doc, f"/MedicationRequest/{rx['id']}")
    MedicationRequest.model_validate(body)
    assert (body["status"], body["intent"], body["meta"]["versionId"]) == ("active", "order", "1")
    concept = body["medicationCodeableConcept"]
    assert concept["text"]
    assert "http://www.whocc.no/atc" in {c["system"] for c in concept["coding"]}
    morning, evening = body["dosageInstruction"]
    assert morning["sequence"] == evening["sequence"] == 1, "taken together"
    assert morning["timing"]["repeat"] == {
        "boundsPeriod": {"start": "2026-01-05", "end": "2026-03-01"},
        "frequency": 1,
        "period": 2,
        "periodUnit": "d",
        "timeOfDay": ["08:00:00"],
    }
    assert evening["timing"]["repeat"]["timeOfDay"] == ["20:00:00"]
    assert morning["doseAndRate"][0]["doseQuantity"] == {
        "value": 10,
        "unit": "mg",
        "system": "http://unitsofmeasure.org",
        "code": "mg",
    }
    assert evening["doseAndRate"][0]["doseQuantity"]["value"] == 5
    assert morning["route"]["coding"][0]["code"] == "26643006"
    assert morning["patientInstruction"] == "with food"
    assert body["requester"]["identifier"]["value"] == str(doc.id)
    assert body["requester"]["display"].startswith("Clinician "), "the care team's name"


def test_an_administrator_reads_who_the_patient_is_without_clinical_fields(
    make: Builders,
) -> None:
    doc, admin = make.clinician(), make.admin()
    pat = make.patient(doc, timezone="Europe/Paris")
    body = get(make, admin, f"/Patient/{pat.patient_id}")
    Patient.model_validate(body)
    assert "birthDate" not in body
    assert body["extension"] == [
        {
            "url": "https://medtrack.dev/fhir/StructureDefinition/patient-timezone",
            "valueCode": "Europe/Paris",
        }
    ]
    other = make.patient(doc)
    get(make, other, f"/Patient/{pat.patient_id}", 404)


def test_weekdays_and_as_needed_doses(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    weekly = make.prescription(
        doc, pat, schedule={"times": ["09:30"], "days_of_week": ["mon", "thu"]}
    )
    prn = make.prescription(
        doc,
        pat,
        drug="ibuprofen",
        dose={"amount": 400, "unit": "mg"},
        schedule={"times": [], "as_needed": True, "max_doses_per_day": 3, "min_hours_between": 6},
    )
    bundle = get(make, pat, f"/MedicationRequest?patient={pat.patient_id}")
    Bundle.model_validate(bundle)
    found = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert bundle["total"] == 2
    page = get(make, pat, f"/MedicationRequest?patient=Patient/{pat.patient_id}&_count=1")
    assert (page["total"], len(page["entry"])) == (2, 1)
    (after,) = [link["url"] for link in page["link"] if link["relation"] == "next"]
    assert "_offset=1" in after
    repeat = found[weekly["id"]]["dosageInstruction"][0]["timing"]["repeat"]
    assert (repeat["dayOfWeek"], repeat["timeOfDay"]) == (["mon", "thu"], ["09:30:00"])
    assert found[prn["id"]]["requester"]["display"].startswith("Clinician ")
    (dose,) = found[prn["id"]]["dosageInstruction"]
    assert dose["asNeededBoolean"] is True
    assert dose["timing"]["repeat"]["period"] == 6
    assert dose["timing"]["repeat"]["periodUnit"] == "h"
    assert dose["maxDosePerPeriod"]["numerator"]["value"] == 1200
    assert dose["maxDosePerPeriod"]["denominator"]["value"] == 24


def test_status_search_and_versions_in_history(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"
    change = {"dose": {"amount": 15, "unit": "mg"}, "reason": "partial response"}
    assert make.client.patch(url, json=change, headers=doc.headers).status_code == 200
    r = make.client.post(
        url + "/pause",
        json={"reason": "surgery", "abrupt_stop_reason": "surgery tomorrow"},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()

    def ids(query: str) -> list[str]:
        bundle = get(make, doc, f"/MedicationRequest?patient={pat.patient_id}{query}")
        return [e["resource"]["id"] for e in bundle.get("entry", [])]

    assert ids("&status=on-hold") == [rx["id"]]
    assert ids("&status=active") == []
    bad = get(make, doc, f"/MedicationRequest?patient={pat.patient_id}&status=paused", 400)
    assert bad["issue"][-1]["expression"] == ["query.status"]

    history = get(make, doc, f"/MedicationRequest/{rx['id']}/_history")
    Bundle.model_validate(history)
    assert history["type"] == "history"
    versions = [e["resource"]["meta"]["versionId"] for e in history["entry"]]
    assert versions == ["3", "2", "1"], "newest first"
    assert [e["resource"]["status"] for e in history["entry"]] == ["on-hold", "active", "active"]
    assert all(e["resource"]["meta"]["lastUpdated"] for e in history["entry"])
    second = get(make, doc, f"/MedicationRequest/{rx['id']}/_history/2")
    MedicationRequest.model_validate(second)
    assert second["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 15
    assert second["meta"]["versionId"] == "2"
    get(make, doc, f"/MedicationRequest/{rx['id']}/_history/9", 404)


def _shape(dosage: dict[str, Any]) -> dict[str, Any]:
    """The structure compared with the R4 example: which paths a dosage has."""
    repeat = dosage["timing"]["repeat"]
    return {
        "sequence": type(dosage["sequence"]),
        "bounds": sorted(repeat["boundsPeriod"]),
        "repeat": sorted(k for k in ("frequency", "period", "periodUnit") if k in repeat),
        "periodUnit": repeat.get("periodUnit"),
        "doseAndRate": [sorted(d) for d in dosage["doseAndRate"]],
        "doseQuantity": sorted(dosage["doseAndRate"][0]["doseQuantity"]),
        "route": sorted(dosage["route"]["coding"][0]),
    }


def test_an_approved_taper_is_sequenced_dosage_instructions_as_in_the_r4_example(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx, algorithm=STEEP).get_json()
    draft = get(make, doc, f"/MedicationRequest/{rx['id']}")
    (terms,) = draft["dosageInstruction"]
    assert terms["timing"]["repeat"]["timeOfDay"] == ["08:00:00", "20:00:00"], (
        "a draft is not the order"
    )
    MedicationRequest.model_validate(draft)
    assert draft["extension"][0]["extension"][1] == {"url": "status", "valueCode": "draft"}
    (proposal,) = draft["contained"]
    assert (proposal["status"], proposal["intent"]) == ("draft", "plan")
    assert draft["extension"][0]["extension"][3]["valueReference"] == {
        "reference": f"#{proposal['id']}"
    }
    assert sorted({d["sequence"] for d in proposal["dosageInstruction"]}) == [1, 2, 3, 4, 5]
    assert act(make, doc, plan, "approve", **approval(plan)).status_code == 200
    body = get(make, pat, f"/MedicationRequest/{rx['id']}")
    MedicationRequest.model_validate(body)
    steps = body["dosageInstruction"]
    assert [d["sequence"] for d in steps] == [1, 2, 3, 4, 5]
    assert [d["timing"]["repeat"]["boundsPeriod"] for d in steps] == [
        {"start": s["start_date"], "end": s["end_date"]} for s in plan["steps"]
    ]
    daily = [
        sum(
            d["doseAndRate"][0]["doseQuantity"]["value"] * d["timing"]["repeat"].get("frequency", 1)
            for d in steps
            if d["sequence"] == n
        )
        for n in range(1, 6)
    ]
    assert daily == [20, 15, 10, 5, 0]
    # Field by field with the official example: every step has an integer sequence,
    # a boundsPeriod with start and end, frequency/period/periodUnit "d" (the last
    # step, with nothing to take, has no frequency), doseAndRate[0] with type and
    # doseQuantity (value, unit, system, code) and a coded route.
    example = [_shape(d) for d in EXAMPLE["dosageInstruction"]]
    ours = [_shape(d) for d in steps[:-1]]
    assert all(shape == example[0] for shape in example)
    assert all(shape == example[0] for shape in ours)
    assert steps[-1]["timing"]["repeat"] == {
        "boundsPeriod": steps[-1]["timing"]["repeat"]["boundsPeriod"]
    }
    assert [d["sequence"] for d in EXAMPLE["dosageInstruction"]] == [1, 2, 3]


def test_units_and_routes_are_coded_where_a_code_exists() -> None:
    """mg/mcg/mL/IU/mEq in UCUM; a tablet, which has no UCUM code, as text; every
    medtrack route with its SNOMED CT route code; each Dosage valid R4."""
    weekly = Schedule(times=(dt.time(21, 0),), every_n_days=7)
    cases = {("mcg", "ug"), ("IU", "[IU]"), ("mEq", "meq"), ("mL", "mL"), ("tablet", None)}
    for unit, code in cases:
        (out,) = dosage.dosages(
            schedule=weekly,
            amount=Decimal("2.5000"),
            unit=unit,
            route_name="oral",
            start=dt.date(2026, 1, 1),
            end=None,
            instructions=None,
        )
        Dosage.model_validate(out)
        quantity = out["doseAndRate"][0]["doseQuantity"]
        assert (quantity["value"], quantity["unit"], quantity.get("code")) == (2.5, unit, code)
        assert out["timing"]["repeat"]["period"] == 7
        assert out["timing"]["repeat"]["boundsPeriod"] == {"start": "2026-01-01"}
    for name in ROUTES:
        coded = dosage.route(name)
        assert coded["text"] == name
        assert coded["coding"][0]["system"] == "http://snomed.info/sct", name
