"""Interaction screening of new prescriptions over the API (docs/clinical.md,
"Interaction checking").

Contraindicated findings refuse the prescription (409) unless overridden with a
reason; major findings need an acknowledgement by id; moderate and minor findings
are stored with the prescription and returned. Unlisted drugs need a confirmation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.test import TestResponse

from tests.conftest import Account, Builders, prescription_body

Count = Callable[[str], int]
STORED = ("prescriptions", "prescription_versions", "prescription_findings")


def rx_url(patient: Account, rx_id: object = None, tail: str = "") -> str:
    base = f"/v1/patients/{patient.patient_id}/prescriptions"
    return base if rx_id is None else f"{base}/{rx_id}{tail}"


def prescribe(make: Builders, doc: Account, pat: Account, drug: str, **extra: Any) -> TestResponse:
    body = prescription_body(drug=drug, **extra)
    return make.client.post(rx_url(pat), json=body, headers=doc.headers)


def stored(count_rows: Count) -> dict[str, int]:
    return {table: count_rows(table) for table in STORED}


def assert_conflict(r: TestResponse) -> dict[str, Any]:
    assert r.status_code == 409, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert body["code"] == 409
    assert body["findings"], body
    assert body["knowledge_base_version"]
    return body


def assert_unprocessable(r: TestResponse) -> dict[str, list[str]]:
    assert r.status_code == 422, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert set(body) - {"suggestions"} == {"code", "status", "message", "errors"}
    return body["errors"]  # type: ignore[no-any-return]


def only(findings: list[dict[str, Any]], kind: str, severity: str) -> dict[str, Any]:
    picked = [f for f in findings if f["kind"] == kind and f["severity"] == severity]
    assert len(picked) == 1, findings
    return picked[0]


def audit(make: Builders, doc: Account, pat: Account, subtype: str) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit?limit=200", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    return [e for e in r.get_json() if e["subtype"] == subtype]


def test_contraindicated_pair_is_refused_until_overridden_with_a_reason(
    make: Builders, count_rows: Count
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    sertraline = make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    before = stored(count_rows)
    dose = {"amount": 15, "unit": "mg"}

    refused = assert_conflict(prescribe(make, doc, pat, "phenelzine", dose=dose))
    finding = only(refused["findings"], "drug-drug", "contraindicated")
    drugs = {d["input"]: d for d in finding["drugs"]}
    assert set(drugs) == {"phenelzine", "sertraline"}
    assert drugs["phenelzine"]["resolved"] == "phenelzine"
    assert drugs["phenelzine"]["ingredients"] == ["phenelzine"]
    assert drugs["phenelzine"]["prescription_id"] is None
    assert drugs["sertraline"]["resolved"] == "sertraline"
    assert drugs["sertraline"]["prescription_id"] == sertraline["id"]
    assert "maoi" in finding["classes"]
    assert finding["sources"]
    assert stored(count_rows) == before

    # Acknowledging is for major findings; a contraindication needs an override.
    r = prescribe(make, doc, pat, "phenelzine", dose=dose, acknowledge=[finding["id"]])
    again = assert_conflict(r)
    assert finding["id"] in [f["id"] for f in again["findings"]]
    assert stored(count_rows) == before

    reason = "Supervised cross-taper agreed with psychiatry"
    r = prescribe(make, doc, pat, "phenelzine", dose=dose, override={"reason": reason})
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert rx["drug_id"] == "phenelzine"
    answered = {f["id"]: f for f in rx["findings"]}
    assert finding["id"] in answered
    kept = answered[finding["id"]]
    assert (kept["severity"], kept["resolution"], kept["reason"]) == (
        "contraindicated",
        "overridden",
        reason,
    )
    assert kept["knowledge_base_version"] == refused["knowledge_base_version"]
    assert count_rows("prescriptions") == before["prescriptions"] + 1
    assert count_rows("prescription_findings") == before["prescription_findings"] + len(
        rx["findings"]
    )

    overrides = audit(make, doc, pat, "prescription.interaction-override")
    assert len(overrides) == 1
    entry = overrides[0]
    assert entry["entity"]["id"] == rx["id"]
    assert entry["agent"]["who"] == str(doc.id)
    assert entry["after"]["reason"] == reason
    assert finding["id"] in [f["id"] for f in entry["after"]["findings"]]
    assert audit(make, doc, pat, "prescription.interaction-acknowledge") == []


def test_major_pair_needs_the_finding_acknowledged(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="oxycodone", dose={"amount": 5, "unit": "mg"})
    before = stored(count_rows)
    dose = {"amount": 0.5, "unit": "mg"}

    refused = assert_conflict(prescribe(make, doc, pat, "alprazolam", dose=dose))
    assert {f["severity"] for f in refused["findings"]} == {"major"}
    finding = only(refused["findings"], "drug-drug", "major")
    assert {d["input"] for d in finding["drugs"]} == {"oxycodone", "alprazolam"}
    assert stored(count_rows) == before

    # An id that is not the finding's acknowledges nothing.
    assert_conflict(prescribe(make, doc, pat, "alprazolam", dose=dose, acknowledge=["F0"]))
    assert stored(count_rows) == before

    r = prescribe(make, doc, pat, "alprazolam", dose=dose, acknowledge=[finding["id"]])
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    kept = only(rx["findings"], "drug-drug", "major")
    assert kept["id"] == finding["id"]
    assert (kept["resolution"], kept["reason"]) == ("acknowledged", None)

    acks = audit(make, doc, pat, "prescription.interaction-acknowledge")
    assert len(acks) == 1
    assert acks[0]["entity"]["id"] == rx["id"]
    assert [f["id"] for f in acks[0]["after"]["findings"]] == [finding["id"]]
    assert acks[0]["after"]["reason"] is None
    assert audit(make, doc, pat, "prescription.interaction-override") == []


def test_moderate_finding_is_stored_and_returned_everywhere(
    make: Builders, count_rows: Count
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    lexapro = make.prescription(doc, pat, drug="Lexapro")
    r = prescribe(make, doc, pat, "Valium", dose={"amount": 5, "unit": "mg"})
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert rx["drug_id"] == "diazepam"
    finding = only(rx["findings"], "drug-drug", "moderate")
    assert finding["resolution"] == "none"
    assert finding["reason"] is None
    assert finding["knowledge_base_version"]
    drugs = {d["input"]: d for d in finding["drugs"]}
    assert drugs["Valium"]["resolved"] == "diazepam"
    assert drugs["Lexapro"]["resolved"] == "escitalopram"
    assert drugs["Lexapro"]["prescription_id"] == lexapro["id"]
    assert count_rows("prescription_findings") == len(rx["findings"])

    got = make.client.get(rx_url(pat, rx["id"]), headers=doc.headers)
    assert got.status_code == 200
    assert got.get_json()["findings"] == rx["findings"]
    # The patient reads the same findings in their words: the summary, not the
    # clinical text nor how the prescriber answered (tests/api/test_patient_words.py).
    listed = make.client.get(rx_url(pat), headers=pat.headers)
    assert listed.status_code == 200
    by_id = {p["id"]: p for p in listed.get_json()}
    patient_keys = ("id", "kind", "severity", "drugs", "allergy", "condition", "patient_summary")
    assert by_id[rx["id"]]["findings"] == [{k: f[k] for k in patient_keys} for f in rx["findings"]]
    assert by_id[lexapro["id"]]["findings"] == []


def test_brand_name_with_strength_and_form_resolves(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, "Lexapro 10 mg tablet")
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert rx["drug"] == "Lexapro 10 mg tablet"
    assert rx["drug_id"] == "escitalopram"
    assert rx["ingredients"] == ["escitalopram"]
    assert rx["findings"] == []


def test_combination_product_stores_every_ingredient(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, "Percocet 5/325", dose={"amount": 1, "unit": "tablet"})
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert rx["drug_id"] == "oxycodone-acetaminophen"
    assert sorted(rx["ingredients"]) == ["acetaminophen", "oxycodone"]


def test_unlisted_drug_needs_confirmation(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    before = stored(count_rows)
    errors = assert_unprocessable(prescribe(make, doc, pat, "Zzyzxamab"))
    assert "drug" in errors
    assert "confirm_unlisted" in " ".join(errors["drug"])
    assert stored(count_rows) == before

    errors = assert_unprocessable(prescribe(make, doc, pat, "Zzyzxamab", confirm_unlisted=True))
    assert "unlisted_reason" in errors
    assert stored(count_rows) == before

    r = prescribe(make, doc, pat, "Zzyzxamab", confirm_unlisted=True, unlisted_reason="trial drug")
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert (rx["drug"], rx["drug_id"], rx["drug_name"]) == ("Zzyzxamab", None, None)
    assert (rx["screening"], rx["unlisted_reason"]) == ("partial", "trial drug")
    assert rx["ingredients"] == []
    (partial,) = rx["findings"]
    assert (partial["kind"], partial["severity"]) == ("partial-screening", "moderate")
    assert "drug-drug interactions" in partial["mechanism"]
    assert count_rows("prescriptions") == before["prescriptions"] + 1
    (entry,) = audit(make, doc, pat, "prescription.unlisted-confirm")
    assert entry["after"]["unlisted_reason"] == "trial drug"


def test_misspelt_drug_is_refused_with_a_suggestion(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, "diazepan")
    errors = assert_unprocessable(r)
    assert "diazepam" in " ".join(errors["drug"])
    assert r.get_json()["suggestions"][0] == {
        "drug_id": "diazepam",
        "name": "diazepam",
        "matched_on": "diazepam",
    }
    assert count_rows("prescriptions") == 0


def test_class_allergy_is_major_until_acknowledged(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc, allergies=["penicillins"])
    dose = {"amount": 500, "unit": "mg"}
    refused = assert_conflict(prescribe(make, doc, pat, "amoxicillin", dose=dose))
    finding = only(refused["findings"], "drug-allergy", "major")
    assert finding["allergy"] == "penicillins"
    assert [d["input"] for d in finding["drugs"]] == ["amoxicillin"]
    assert count_rows("prescriptions") == 0

    r = prescribe(make, doc, pat, "amoxicillin", dose=dose, acknowledge=[finding["id"]])
    assert r.status_code == 201, r.get_json()
    kept = only(r.get_json()["findings"], "drug-allergy", "major")
    assert kept["resolution"] == "acknowledged"
    assert len(audit(make, doc, pat, "prescription.interaction-acknowledge")) == 1


def test_pregnancy_contraindication_is_refused(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc, pregnant=True)
    refused = assert_conflict(prescribe(make, doc, pat, "lisinopril"))
    finding = only(refused["findings"], "drug-condition", "contraindicated")
    assert finding["condition"] == "pregnancy"
    r = prescribe(make, doc, pat, "lisinopril", acknowledge=[finding["id"]])
    assert_conflict(r)
    assert count_rows("prescriptions") == 0


def test_pregnancy_set_later_is_screened(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"pregnant": True}, headers=doc.headers
    )
    assert r.status_code == 200, r.get_json()
    refused = assert_conflict(prescribe(make, doc, pat, "lisinopril"))
    only(refused["findings"], "drug-condition", "contraindicated")


def test_discontinued_prescriptions_are_not_screened_but_paused_ones_are(
    make: Builders,
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    sertraline = make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    dose = {"amount": 15, "unit": "mg"}
    pause = make.client.post(
        rx_url(pat, sertraline["id"], "/pause"),
        json={"reason": "nausea", "abrupt_stop_reason": "vomiting"},
        headers=doc.headers,
    )
    assert pause.status_code == 200
    # A paused prescription may resume, so it is still checked.
    assert_conflict(prescribe(make, doc, pat, "phenelzine", dose=dose))

    stop = make.client.post(
        rx_url(pat, sertraline["id"], "/discontinue"),
        json={"reason": "switching to an MAOI", "abrupt_stop_reason": "washout before an MAOI"},
        headers=doc.headers,
    )
    assert stop.status_code == 200
    r = prescribe(make, doc, pat, "phenelzine", dose=dose)
    assert r.status_code == 201, r.get_json()
    assert [f for f in r.get_json()["findings"] if f["severity"] == "contraindicated"] == []


def test_drug_cannot_be_changed_by_patch(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    r = make.client.patch(
        rx_url(pat, rx["id"]),
        json={"drug": "phenelzine", "reason": "switch"},
        headers=doc.headers,
    )
    errors = assert_unprocessable(r)
    assert "drug" in errors
    assert count_rows("prescription_versions") == 1
    current = make.client.get(rx_url(pat, rx["id"]), headers=doc.headers).get_json()
    assert (current["drug"], current["version"]) == ("sertraline", 1)


def test_blank_override_reason_is_refused(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    before = stored(count_rows)
    dose = {"amount": 15, "unit": "mg"}
    for reason in ("", "   "):
        r = prescribe(make, doc, pat, "phenelzine", dose=dose, override={"reason": reason})
        errors = assert_unprocessable(r)
        assert "override.reason" in errors, errors
    r = prescribe(make, doc, pat, "phenelzine", dose=dose, override={})
    assert "override.reason" in assert_unprocessable(r)
    assert stored(count_rows) == before


def test_override_reason_is_kept_only_on_overridden_findings(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="Lexapro")
    make.prescription(doc, pat, drug="Valium", dose={"amount": 5, "unit": "mg"})
    reason = "palliative care"
    r = prescribe(
        make, doc, pat, "oxycodone", dose={"amount": 5, "unit": "mg"}, override={"reason": reason}
    )
    assert r.status_code == 201, r.get_json()
    findings = r.get_json()["findings"]
    assert {f["severity"] for f in findings} >= {"major", "moderate"}
    for f in findings:
        expected = reason if f["resolution"] == "overridden" else None
        assert f["reason"] == expected, f
