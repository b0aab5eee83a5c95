"""Interaction checks and the drug catalog over the API."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import Account, Builders

CHECK = "/v1/interactions/check"
FINDING_FIELDS = {
    "id",
    "patient_summary",
    "kind",
    "severity",
    "drugs",
    "rule",
    "rules",
    "classes",
    "mechanism",
    "effect",
    "management",
    "sources",
    "allergy",
    "condition",
}


def check(make: Builders, who: Account | None, body: dict[str, Any]) -> TestResponse:
    headers = who.headers if who is not None else {}
    return make.client.post(CHECK, json=body, headers=headers)


def ok(r: TestResponse) -> dict[str, Any]:
    assert r.status_code == 200, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    return body


def assert_error(r: TestResponse, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    return body


def assert_complete(finding: dict[str, Any]) -> None:
    assert set(finding) == FINDING_FIELDS
    assert finding["id"].startswith("F")
    for field in ("kind", "severity", "rule", "mechanism", "effect", "management"):
        assert isinstance(finding[field], str), field
        assert finding[field].strip(), field
    assert finding["rule"] in finding["rules"]
    assert finding["drugs"]
    for drug in finding["drugs"]:
        assert set(drug) == {
            "input",
            "resolved",
            "ingredients",
            "prescription_id",
            "reported_product_id",
            "taper",
        }
        assert drug["ingredients"]
    assert finding["sources"]
    for source in finding["sources"]:
        assert source["id"]
        assert source["citation"].strip()


def test_brand_names_are_checked_against_each_other(make: Builders, app: Flask) -> None:
    doc = make.clinician()
    body = ok(check(make, doc, {"drugs": ["Lexapro", "Valium"]}))
    assert set(body) == {"findings", "resolved", "unresolved", "knowledge_base_version"}
    assert body["knowledge_base_version"] == app.extensions["medtrack"].knowledge.version
    assert body["unresolved"] == []
    assert body["resolved"] == [
        {
            "input": "Lexapro",
            "drug_id": "escitalopram",
            "name": "escitalopram",
            "ingredients": ["escitalopram"],
            "in_catalog": True,
        },
        {
            "input": "Valium",
            "drug_id": "diazepam",
            "name": "diazepam",
            "ingredients": ["diazepam"],
            "in_catalog": True,
        },
    ]
    assert len(body["findings"]) == 1
    finding = body["findings"][0]
    assert_complete(finding)
    assert (finding["kind"], finding["severity"]) == ("drug-drug", "moderate")
    assert {(d["input"], d["resolved"]) for d in finding["drugs"]} == {
        ("Lexapro", "escitalopram"),
        ("Valium", "diazepam"),
    }
    assert all(d["prescription_id"] is None for d in finding["drugs"])
    assert "cns-depressant" in finding["classes"]
    assert (finding["allergy"], finding["condition"]) == (None, None)


def test_the_result_does_not_depend_on_the_order_of_the_drugs(make: Builders) -> None:
    doc = make.clinician()
    one = ok(check(make, doc, {"drugs": ["oxycodone", "alprazolam"]}))["findings"]
    two = ok(check(make, doc, {"drugs": ["alprazolam", "oxycodone"]}))["findings"]
    assert [(f["id"], f["severity"]) for f in one] == [(f["id"], f["severity"]) for f in two]
    assert [f["severity"] for f in one if f["kind"] == "drug-drug"] == ["major"]


def test_unresolved_names_come_back_with_suggestions(make: Builders) -> None:
    doc = make.clinician()
    body = ok(check(make, doc, {"drugs": ["Lexapro", "Valum", "Zzyzxamab"]}))
    unresolved = {u["input"]: u["suggestions"] for u in body["unresolved"]}
    assert set(unresolved) == {"Valum", "Zzyzxamab"}
    assert {
        "drug_id": "diazepam",
        "name": "diazepam",
        "matched_on": "valium",
    } in unresolved["Valum"]
    assert unresolved["Zzyzxamab"] == []
    assert [r["input"] for r in body["resolved"]] == ["Lexapro"]
    assert body["findings"] == []


def test_check_against_a_patients_prescriptions(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    body = ok(check(make, doc, {"drugs": ["tramadol"], "patient_id": str(pat.patient_id)}))
    majors = [f for f in body["findings"] if f["kind"] == "drug-drug"]
    assert len(majors) == 1, body["findings"]
    finding = majors[0]
    assert_complete(finding)
    assert finding["severity"] == "major"
    assert "serotonergic" in finding["classes"]
    drugs = {d["input"]: d for d in finding["drugs"]}
    assert drugs["sertraline"]["prescription_id"] == rx["id"]
    assert drugs["tramadol"]["prescription_id"] is None

    # Without the patient, tramadol alone raises nothing.
    assert ok(check(make, doc, {"drugs": ["tramadol"]}))["findings"] == []
    # The check of a patient's record is a read of it, and is audited.
    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers)
    assert "interaction.check" in [e["subtype"] for e in r.get_json()]


def test_check_includes_the_patients_allergies_and_pregnancy(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc, allergies=["penicillins"], pregnant=True)
    body = ok(
        check(
            make, doc, {"drugs": ["amoxicillin", "lisinopril"], "patient_id": str(pat.patient_id)}
        )
    )
    kinds = {(f["kind"], f["severity"]) for f in body["findings"]}
    assert ("drug-allergy", "major") in kinds
    assert ("drug-condition", "contraindicated") in kinds


def test_who_may_check_a_patients_record(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    body = {"drugs": ["tramadol"], "patient_id": str(pat.patient_id)}

    stranger = make.clinician()
    assert_error(check(make, stranger, body), 404)
    unknown = {"drugs": ["tramadol"], "patient_id": str(uuid.uuid4())}
    assert_error(check(make, doc, unknown), 404)

    own = ok(check(make, pat, body))
    assert [f["severity"] for f in own["findings"] if f["kind"] == "drug-drug"] == ["major"]

    other = make.patient(doc)
    assert_error(check(make, other, body), 404)
    assert_error(check(make, None, body), 401)
    assert_error(check(make, None, {"drugs": ["Lexapro"]}), 401)
    # Admins manage accounts; interaction checks are clinical.
    assert_error(check(make, make.admin(), {"drugs": ["Lexapro"]}), 403)


def test_check_input_is_validated(make: Builders) -> None:
    doc = make.clinician()
    assert "drugs" in assert_error(check(make, doc, {"drugs": []}), 422)["errors"]
    many = {"drugs": [f"drug {i}" for i in range(51)]}
    assert "drugs" in assert_error(check(make, doc, many), 422)["errors"]
    assert "drugs" in assert_error(check(make, doc, {}), 422)["errors"]
    bad_id = {"drugs": ["Lexapro"], "patient_id": "nope"}
    assert "patient_id" in assert_error(check(make, doc, bad_id), 422)["errors"]
    # Fifty is the limit, not more than it.
    fifty = ok(check(make, doc, {"drugs": ["Lexapro"] * 50}))
    assert len(fifty["resolved"]) == 50


def test_drug_search_finds_brands_and_combinations(make: Builders) -> None:
    doc = make.clinician()
    r = make.client.get("/v1/drugs?q=lexa", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    found = {d["id"]: d for d in r.get_json()}
    assert "escitalopram" in found
    escitalopram = found["escitalopram"]
    assert escitalopram["kind"] == "ingredient"
    assert "Lexapro" in escitalopram["brands"]
    assert escitalopram["ingredients"] == ["escitalopram"]
    assert escitalopram["withdrawal_risk"] is True

    r = make.client.get("/v1/drugs?q=perco", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    combos = [d for d in r.get_json() if d["kind"] == "combination"]
    assert combos
    percocet = next(d for d in combos if "Percocet" in d["brands"])
    assert sorted(percocet["ingredients"]) == ["acetaminophen", "oxycodone"]

    r = make.client.get("/v1/drugs?q=lexa&limit=1", headers=doc.headers)
    assert len(r.get_json()) == 1


def test_drug_search_needs_a_query(make: Builders) -> None:
    doc = make.clinician()
    body = assert_error(make.client.get("/v1/drugs", headers=doc.headers), 422)
    assert "query.q" in body["errors"]
    r = make.client.get("/v1/drugs?q=lexa&limit=0", headers=doc.headers)
    assert "query.limit" in assert_error(r, 422)["errors"]
    assert_error(make.client.get("/v1/drugs?q=lexa"), 401)


def test_drug_details(make: Builders, app: Flask) -> None:
    doc = make.clinician()
    r = make.client.get("/v1/drugs/diazepam", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    drug = r.get_json()
    assert (drug["id"], drug["name"], drug["kind"]) == ("diazepam", "diazepam", "ingredient")
    assert "Valium" in drug["brands"]
    forms = drug["formulations"]
    assert {"form": "tablet", "strengths": [2, 5, 10], "unit": "mg", "scored": True} in forms
    assert {"form": "oral-solution", "strengths": [1], "unit": "mg/mL", "scored": False} in forms
    assert drug["withdrawal_risk"] is True
    assert drug["withdrawal_reason"]
    assert "diazepam" in drug["withdrawal_reason"]
    assert "benzodiazepine" in [c["id"] for c in drug["classes"]]
    assert all(c["name"] for c in drug["classes"])
    assert drug["knowledge_base_version"] == app.extensions["medtrack"].knowledge.version

    r = make.client.get("/v1/drugs/oxycodone-acetaminophen", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    combo = r.get_json()
    assert combo["kind"] == "combination"
    assert sorted(combo["ingredients"]) == ["acetaminophen", "oxycodone"]
    assert "opioid" in [c["id"] for c in combo["classes"]]
    assert drug["occupancy"] is None
    assert combo["occupancy"] is None


def test_drug_details_carry_the_occupancy_model_with_its_sources(make: Builders) -> None:
    doc = make.clinician()
    r = make.client.get("/v1/drugs/escitalopram", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    occupancy = r.get_json()["occupancy"]
    assert occupancy["target"] == "SERT"
    assert (occupancy["emax_pct"], occupancy["ed50_mg"]) == (90.7, 1.33)
    assert [(a["dose_mg"], a["occupancy_pct"]) for a in occupancy["anchors"]] == [
        (10, 80),
        (20, 85),
    ]
    cited = {s["id"]: s for s in occupancy["sources"]}
    assert {a["source"] for a in occupancy["anchors"]} == set(cited)
    assert all(s["citation"] for s in cited.values())
    assert "assumption" in occupancy["derivation"]


def test_unknown_drug_is_404(make: Builders) -> None:
    doc = make.clinician()
    assert_error(make.client.get("/v1/drugs/zzyzxamab", headers=doc.headers), 404)
    # A brand name is not an id.
    assert_error(make.client.get("/v1/drugs/Valium", headers=doc.headers), 404)
