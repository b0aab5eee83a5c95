"""The whole record re-screened (docs/clinical.md, "Re-screening"): conditions and
products the patient reports are checked like prescriptions, every change to the
record brings GET /findings up to date, and new major or contraindicated findings
reach the care team."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from service.db.uow import Database
from tests.conftest import Account, Builders

DIAZEPAM = {"drug": "diazepam", "dose": {"amount": 5, "unit": "mg"}}


def base(pat: Account) -> str:
    return f"/v1/patients/{pat.patient_id}"


def findings(make: Builders, who: Account, pat: Account) -> list[dict[str, Any]]:
    r = make.client.get(f"{base(pat)}/findings", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def drugs_of(f: dict[str, Any]) -> set[str]:
    return {d["resolved"] for d in f["finding"]["drugs"]}


def told(database: Database, pat: Account) -> list[dict[str, Any]]:
    """The care-team messages about regimen findings queued for this patient."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT recipient_id, payload FROM notifications "
                "WHERE kind = 'regimen-finding-care-team' ORDER BY id"
            )
        ).all()
    out = []
    for recipient, payload in rows:
        data = payload if isinstance(payload, dict) else json.loads(payload)
        if data["data"]["patient_id"] == str(pat.patient_id):
            out.append({"recipient": str(uuid.UUID(str(recipient))), **data["data"]})
    return out


def add_condition(make: Builders, doc: Account, pat: Account, **body: Any) -> dict[str, Any]:
    r = make.client.post(f"{base(pat)}/conditions", json=body, headers=doc.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def report(make: Builders, who: Account, pat: Account, name: str) -> dict[str, Any]:
    r = make.client.post(f"{base(pat)}/reported-products", json={"name": name}, headers=who.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_a_substance_use_disorder_flags_diazepam(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    add_condition(make, doc, pat, code="substance-use-disorder")
    r = make.client.post(
        f"{base(pat)}/prescriptions",
        json={**make_rx(), **DIAZEPAM},
        headers=doc.headers,
    )
    assert r.status_code == 409, r.get_json()
    (finding,) = [f for f in r.get_json()["findings"] if f["kind"] == "drug-condition"]
    assert finding["condition"] == "substance-use-disorder"
    assert finding["severity"] in ("major", "contraindicated")
    assert finding["sources"]


def make_rx() -> dict[str, Any]:
    from tests.conftest import prescription_body

    return prescription_body()


@pytest.mark.parametrize(
    ("product", "drug", "severity"),
    [("alcohol", "diazepam", "major"), ("St John's wort", "escitalopram", "major")],
)
def test_a_reported_product_is_screened_and_the_care_team_told(
    make: Builders, database: Database, product: str, drug: str, severity: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug=drug, dose={"amount": 5, "unit": "mg"})
    assert told(database, pat) == []
    reported = report(make, pat, pat, product)
    assert reported["drug_id"] is not None
    involved = [f for f in reported["findings"] if f["severity"] == severity]
    assert involved, reported["findings"]
    assert drug in {d["resolved"] for d in involved[0]["drugs"]}
    current = findings(make, doc, pat)
    (row,) = [f for f in current if f["id"] == involved[0]["id"]]
    assert row["cause"] == "reported-product.create"
    assert row["care_team_notified_at"] is not None
    messages = told(database, pat)
    assert [(m["finding_id"], m["recipient"]) for m in messages] == [(row["id"], str(doc.id))]
    # Stopping the product resolves the finding; it is no longer current.
    r = make.client.post(f"{base(pat)}/reported-products/{reported['id']}/end", headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    assert row["id"] not in [f["id"] for f in findings(make, doc, pat)]


def test_allergy_pregnancy_and_age_changes_rescreen_the_regimen(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    pat = make.patient(doc, date_of_birth="1970-01-01")
    make.prescription(doc, pat, drug="amoxicillin", dose={"amount": 500, "unit": "mg"})
    make.prescription(doc, pat, drug="lisinopril", dose={"amount": 10, "unit": "mg"})
    assert findings(make, doc, pat) == []

    def update(**body: Any) -> None:
        r = make.client.patch(base(pat), json=body, headers=doc.headers)
        assert r.status_code == 200, r.get_json()

    update(allergies=["amoxicillin"])
    (allergy,) = [f for f in findings(make, doc, pat) if f["kind"] == "drug-allergy"]
    assert allergy["severity"] == "contraindicated"
    assert allergy["cause"] == "patient.update"
    update(pregnant=True)
    (pregnancy,) = [f for f in findings(make, doc, pat) if f["kind"] == "drug-condition"]
    assert (pregnancy["finding"]["condition"], pregnancy["severity"]) == (
        "pregnancy",
        "contraindicated",
    )
    assert drugs_of(pregnancy) == {"lisinopril"}
    # Both reached the care team; nothing moderate or below does.
    assert {m["finding_id"] for m in told(database, pat)} == {allergy["id"], pregnancy["id"]}
    update(allergies=[], pregnant=False)
    assert findings(make, doc, pat) == []


def test_a_birthday_past_65_brings_the_beers_findings(make: Builders, database: Database) -> None:
    doc = make.clinician()
    pat = make.patient(doc, date_of_birth="1990-01-01")
    make.prescription(doc, pat, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    assert [f for f in findings(make, doc, pat) if f["kind"] == "drug-age"] == []
    r = make.client.patch(base(pat), json={"date_of_birth": "1950-01-01"}, headers=doc.headers)
    assert r.status_code == 200
    (age,) = [f for f in findings(make, doc, pat) if f["kind"] == "drug-age"]
    assert age["severity"] == "moderate"
    assert told(database, pat) == []


def test_a_regimen_change_rescreens_and_an_acknowledgement_is_audited(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    r = make.client.post(
        f"{base(pat)}/prescriptions",
        json={**make_rx(), "drug": "oxycodone", "dose": {"amount": 5, "unit": "mg"}},
        headers=doc.headers,
    )
    assert r.status_code == 409
    ids = [f["id"] for f in r.get_json()["findings"]]
    r = make.client.post(
        f"{base(pat)}/prescriptions",
        json={
            **make_rx(),
            "drug": "oxycodone",
            "dose": {"amount": 5, "unit": "mg"},
            "acknowledge": ids,
        },
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    (pair,) = [f for f in findings(make, doc, pat) if f["kind"] == "drug-drug"]
    # Answered by the prescriber as it was written: recorded, not sent to the team.
    assert pair["acknowledged_by"] == str(doc.id)
    assert pair["acknowledged_reason"] == "Acknowledged when prescribed."
    assert told(database, pat) == []
    # The opioid stopped: the pair is resolved.
    rx_id = r.get_json()["id"]
    r = make.client.post(
        f"{base(pat)}/prescriptions/{rx_id}/discontinue",
        json={"reason": "pain resolved", "abrupt_stop_reason": "two days' use only"},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    assert [f for f in findings(make, doc, pat) if f["kind"] == "drug-drug"] == []


def test_acknowledging_a_current_finding(make: Builders, database: Database) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(doc, pat, drug="escitalopram", dose={"amount": 10, "unit": "mg"})
    report(make, pat, pat, "St John's wort")
    (finding,) = [f for f in findings(make, doc, pat) if f["severity"] == "major"]
    url = f"{base(pat)}/findings/{finding['id']}/acknowledge"
    assert make.client.post(url, json={"reason": "  "}, headers=doc.headers).status_code == 422
    assert make.client.post(url, json={"reason": "x"}, headers=pat.headers).status_code == 403
    r = make.client.post(url, json={"reason": "stopping the herb next week"}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["acknowledged_by"], body["acknowledged_reason"]) == (
        str(doc.id),
        "stopping the herb next week",
    )
    assert make.client.post(url, json={"reason": "again"}, headers=doc.headers).status_code == 409
    missing = f"{base(pat)}/findings/Fnotafinding/acknowledge"
    assert make.client.post(missing, json={"reason": "x"}, headers=doc.headers).status_code == 404
    with database.engine.connect() as conn:
        n = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE subtype = 'finding.acknowledge'")
        ).scalar_one()
    assert n == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "hepatic-impairment"}, "child_pugh"),
        ({"code": "renal-impairment"}, "egfr"),
        ({"code": "long-qt", "egfr": 40}, "egfr"),
        ({"code": "pregnancy"}, "code"),
        ({"code": "renal-impairment", "egfr": 500}, "egfr"),
    ],
)
def test_a_condition_must_carry_what_its_checks_need(
    make: Builders, body: dict[str, Any], field: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.post(f"{base(pat)}/conditions", json=body, headers=doc.headers)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]


def test_hepatic_impairment_lowers_the_dose_limit_and_is_replaced_not_lost(
    make: Builders,
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    add_condition(make, doc, pat, code="hepatic-impairment", child_pugh="A")
    # Escitalopram: 10 mg a day in hepatic impairment (label), so 15 mg is major.
    r = make.client.post(
        f"{base(pat)}/prescriptions",
        json={**make_rx(), "drug": "escitalopram", "dose": {"amount": 15, "unit": "mg"}},
        headers=doc.headers,
    )
    assert r.status_code == 409, r.get_json()
    (dose,) = [f for f in r.get_json()["findings"] if f["kind"] == "dose-range"]
    assert dose["condition"] == "hepatic-impairment"
    add_condition(make, doc, pat, code="hepatic-impairment", child_pugh="C")
    current = make.client.get(f"{base(pat)}/conditions", headers=doc.headers).get_json()
    assert [(c["code"], c["child_pugh"]) for c in current] == [("hepatic-impairment", "C")]
    # Diazepam is contraindicated in severe hepatic insufficiency (Child-Pugh C).
    r = make.client.post(
        f"{base(pat)}/prescriptions", json={**make_rx(), **DIAZEPAM}, headers=doc.headers
    )
    assert r.status_code == 409
    assert ("drug-condition", "contraindicated") in [
        (f["kind"], f["severity"]) for f in r.get_json()["findings"]
    ]


def test_an_unknown_product_gets_suggestions_or_is_recorded_by_name(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.post(
        f"{base(pat)}/reported-products", json={"name": "valerain"}, headers=pat.headers
    )
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["suggestions"][0]["drug_id"] == "valerian"
    r = make.client.post(
        f"{base(pat)}/reported-products",
        json={"name": "Grandma's tonic", "confirm_unlisted": True},
        headers=pat.headers,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["drug_id"] is None


@pytest.mark.parametrize(
    ("setup", "drug", "kind"),
    [
        ({"condition": "alcohol-use"}, "diazepam", "drug-condition"),
        ({"product": "alcohol"}, "diazepam", "drug-drug"),
        ({"product": "beer"}, "Valium", "drug-drug"),
        ({"product": "St John's wort"}, "escitalopram", "drug-drug"),
        ({"product": "Hypericum"}, "Lexapro", "drug-drug"),
    ],
)
def test_what_the_patient_reports_is_checked_when_the_drug_is_prescribed(
    make: Builders, setup: dict[str, str], drug: str, kind: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    if "condition" in setup:
        add_condition(make, doc, pat, code=setup["condition"])
    else:
        r = make.client.post(
            f"{base(pat)}/reported-products",
            json={"name": setup["product"], "confirm_unlisted": True},
            headers=pat.headers,
        )
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["drug_id"] is not None, "resolved through the catalog"
    body = {**make_rx(), "drug": drug, "dose": {"amount": 5, "unit": "mg"}}
    r = make.client.post(f"{base(pat)}/prescriptions", json=body, headers=doc.headers)
    assert r.status_code == 409, r.get_json()
    (finding,) = [f for f in r.get_json()["findings"] if f["kind"] == kind]
    assert finding["severity"] in ("major", "contraindicated")
    assert finding["sources"]
