"""Prescriptions over the API: create, list, versioned changes, status changes, audit.

Input validation, request ids and body limits live in test_prescription_input.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from werkzeug.test import TestResponse

from service.db.uow import Database
from tests.conftest import Account, Builders, prescription_body

Count = Callable[[str], int]


def assert_error(r: TestResponse, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    return body


def rx_url(patient: Account, rx_id: object = None, tail: str = "") -> str:
    base = f"/v1/patients/{patient.patient_id}/prescriptions"
    return base if rx_id is None else f"{base}/{rx_id}{tail}"


def test_example_body_is_stored_and_echoed(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    body = prescription_body()
    r = make.client.post(rx_url(pat), json=body, headers=doc.headers)
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    for field, value in body.items():
        assert rx[field] == value, field
    assert rx["id"]
    assert rx["patient_id"] == str(pat.patient_id)
    assert rx["version"] == 1
    assert rx["status"] == "active"
    assert rx["change"] == "create"
    assert rx["created_by"] == str(doc.id)
    # What the patient reads back is what was stored.
    r = make.client.get(rx_url(pat, rx["id"]), headers=pat.headers)
    assert r.status_code == 200
    assert r.get_json() == rx


def test_times_are_stored_in_order_and_decimals_kept(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    schedule = {**prescription_body()["schedule"], "times": ["20:00", "08:00"]}
    rx = make.prescription(doc, pat, schedule=schedule, dose={"amount": 2.5, "unit": "mg"})
    assert rx["schedule"]["times"] == ["08:00", "20:00"]
    assert rx["dose"] == {"amount": 2.5, "unit": "mg"}


def test_list_filters_by_status(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    keep = make.prescription(doc, pat)
    held = make.prescription(doc, pat, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    r = make.client.post(
        rx_url(pat, held["id"], "/pause"),
        json={"reason": "drowsy", "abrupt_stop_reason": "oversedation"},
        headers=doc.headers,
    )
    assert r.status_code == 200

    def ids(query: str, who: Account = doc) -> list[str]:
        r = make.client.get(rx_url(pat) + query, headers=who.headers)
        assert r.status_code == 200, r.get_json()
        return [p["id"] for p in r.get_json()]

    assert sorted(ids("")) == sorted([keep["id"], held["id"]])
    assert ids("?status=active") == [keep["id"]]
    assert ids("?status=paused", pat) == [held["id"]]
    assert ids("?status=discontinued") == []
    body = assert_error(make.client.get(rx_url(pat) + "?status=lost", headers=doc.headers), 422)
    assert "query.status" in body["errors"]


def test_dose_change_keeps_both_versions_and_audits_both_writes(
    make: Builders, count_rows: Count
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    change = {"dose": {"amount": 15, "unit": "mg"}, "reason": "partial response"}
    r = make.client.patch(rx_url(pat, rx["id"]), json=change, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    v2 = r.get_json()
    assert (v2["id"], v2["version"], v2["change"]) == (rx["id"], 2, "revise")
    assert v2["dose"] == {"amount": 15, "unit": "mg"}
    assert v2["reason"] == "partial response"
    assert count_rows("prescriptions") == 1
    assert count_rows("prescription_versions") == 2

    r = make.client.get(rx_url(pat, rx["id"], "/versions"), headers=pat.headers)
    assert r.status_code == 200
    versions = r.get_json()
    assert [(v["version"], v["dose"]["amount"], v["dose"]["unit"]) for v in versions] == [
        (1, 10, "mg"),
        (2, 15, "mg"),
    ]
    assert versions[0] == rx

    current = make.client.get(rx_url(pat, rx["id"]), headers=doc.headers).get_json()
    assert current["version"] == 2
    assert current["dose"]["amount"] == 15

    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers)
    assert r.status_code == 200
    writes = [
        e for e in r.get_json() if e["subtype"].startswith("prescription.") and e["action"] != "R"
    ]
    assert [e["subtype"] for e in writes] == ["prescription.create", "prescription.revise"]
    created, revised = writes
    assert created["entity"]["id"] == rx["id"]
    assert created["before"] is None
    assert Decimal(created["after"]["dose"]["amount"]) == 10
    assert revised["action"] == "U"
    assert revised["agent"]["who"] == str(doc.id)
    assert Decimal(revised["before"]["dose"]["amount"]) == 10
    assert Decimal(revised["after"]["dose"]["amount"]) == 15
    assert revised["after"]["version"] == 2


def test_unchanged_terms_create_no_version(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    audits = count_rows("audit_events")
    same = {"dose": {"amount": 10.0, "unit": "mg"}, "drug": "escitalopram", "route": "oral"}
    r = make.client.patch(rx_url(pat, rx["id"]), json=same, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == 1
    assert count_rows("prescription_versions") == 1
    assert count_rows("audit_events") == audits


def test_patient_reads_but_cannot_write(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    assert make.client.get(rx_url(pat, rx["id"]), headers=pat.headers).status_code == 200
    assert_error(make.client.post(rx_url(pat), json=prescription_body(), headers=pat.headers), 403)
    r = make.client.patch(rx_url(pat, rx["id"]), json={"drug": "x"}, headers=pat.headers)
    assert_error(r, 403)
    r = make.client.post(rx_url(pat, rx["id"], "/pause"), json={"reason": "r"}, headers=pat.headers)
    assert_error(r, 403)
    assert count_rows("prescription_versions") == 1


def status_change(
    make: Builders, doc: Account, pat: Account, rx: dict[str, Any], action: str, **body: Any
) -> TestResponse:
    return make.client.post(rx_url(pat, rx["id"], f"/{action}"), json=body, headers=doc.headers)


def test_pause_resume_discontinue_are_versions(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    expected = [("pause", 2, "paused"), ("resume", 3, "active"), ("discontinue", 4, "discontinued")]
    for action, version, status in expected:
        extra = {"abrupt_stop_reason": "anaphylaxis"} if action != "resume" else {}
        r = status_change(make, doc, pat, rx, action, reason=f"why {action}", **extra)
        assert r.status_code == 200, r.get_json()
        got = r.get_json()
        assert (got["version"], got["status"], got["change"]) == (version, status, action)
        assert got["reason"] == f"why {action}"
        assert got["dose"] == rx["dose"]
    versions = make.client.get(rx_url(pat, rx["id"], "/versions"), headers=doc.headers).get_json()
    assert [(v["version"], v["status"]) for v in versions] == [
        (1, "active"),
        (2, "paused"),
        (3, "active"),
        (4, "discontinued"),
    ]
    assert count_rows("prescription_versions") == 4


def test_resume_of_an_active_prescription_is_409(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    assert_error(status_change(make, doc, pat, rx, "resume", reason="already on it"), 409)
    assert count_rows("prescription_versions") == 1


def test_pausing_twice_is_409(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    away = {"reason": "away", "resume_on": "2099-01-02"}
    assert status_change(make, doc, pat, rx, "pause", **away).status_code == 200
    assert_error(status_change(make, doc, pat, rx, "pause", **away), 409)
    assert count_rows("prescription_versions") == 2


@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("post", "/pause", {"reason": "r"}),
        ("post", "/resume", {"reason": "r"}),
        ("post", "/discontinue", {"reason": "r"}),
        ("patch", "", {"dose": {"amount": 20, "unit": "mg"}}),
    ],
    ids=["pause", "resume", "discontinue", "revise"],
)
def test_nothing_changes_after_discontinue(
    make: Builders, count_rows: Count, method: str, tail: str, body: dict[str, Any]
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    r = status_change(make, doc, pat, rx, "discontinue", reason="rash", abrupt_stop_reason="SJS")
    assert r.status_code == 200
    versions = count_rows("prescription_versions")
    r = getattr(make.client, method)(rx_url(pat, rx["id"], tail), json=body, headers=doc.headers)
    assert_error(r, 409)
    assert count_rows("prescription_versions") == versions
    current = make.client.get(rx_url(pat, rx["id"]), headers=doc.headers).get_json()
    assert (current["status"], current["version"]) == ("discontinued", 2)


@pytest.mark.parametrize(
    "body", [{}, {"reason": ""}, {"reason": "   "}], ids=["missing", "empty", "blank"]
)
def test_status_change_needs_a_reason(
    make: Builders, count_rows: Count, body: dict[str, Any]
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    errors = assert_error(status_change(make, doc, pat, rx, "pause", **body), 422)["errors"]
    assert "reason" in errors
    assert count_rows("prescription_versions") == 1


def test_unknown_prescription_is_404(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    other = make.patient(doc)
    rx = make.prescription(doc, other)
    # Another patient's prescription id under this patient's path is not found.
    assert_error(make.client.get(rx_url(pat, rx["id"]), headers=doc.headers), 404)
    assert_error(make.client.get(rx_url(pat, uuid.uuid4()), headers=doc.headers), 404)


def test_stopping_diazepam_without_a_taper_needs_an_abrupt_stop_reason(
    make: Builders, count_rows: Count, database: Database
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat, drug="Valium", dose={"amount": 5, "unit": "mg"})
    versions = count_rows("prescription_versions")
    refused = status_change(make, doc, pat, rx, "discontinue", reason="no longer needed")
    assert refused.status_code == 409
    body = refused.get_json()
    assert [f["kind"] for f in body["findings"]] == ["abrupt-stop"]
    assert "abrupt_stop_reason" in body["errors"]
    assert "diazepam" in body["message"]
    assert count_rows("prescription_versions") == versions
    blank = status_change(make, doc, pat, rx, "discontinue", reason="r", abrupt_stop_reason="  ")
    assert blank.status_code == 409
    stopped = status_change(
        make,
        doc,
        pat,
        rx,
        "discontinue",
        reason="no longer needed",
        abrupt_stop_reason="paradoxical agitation; stopping under observation",
    )
    assert stopped.status_code == 200, stopped.get_json()
    assert stopped.get_json()["status"] == "discontinued"
    with database.engine.connect() as conn:
        (after,) = conn.execute(
            text(
                "SELECT after FROM audit_events WHERE subtype = 'prescription.abrupt-stop-override'"
            )
        ).one()
    detail = after if isinstance(after, dict) else json.loads(after)
    assert detail["abrupt_stop_reason"].startswith("paradoxical agitation")


def test_stopping_a_drug_without_withdrawal_risk_needs_only_a_reason(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat, drug="atorvastatin", dose={"amount": 20, "unit": "mg"})
    r = status_change(make, doc, pat, rx, "discontinue", reason="myalgia")
    assert r.status_code == 200, r.get_json()
    # Pausing is not stopping: no abrupt-stop reason is asked for.
    other = make.prescription(doc, pat, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    paused = status_change(make, doc, pat, other, "pause", reason="surgery", resume_on="2099-01-02")
    assert paused.status_code == 200, paused.get_json()
