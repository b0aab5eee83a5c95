"""Patients over the API: registration, reading, updating, and their audit trail.

Care-team membership lives in test_care_team.py.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, Account, Builders, FrozenClock

ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error(r: TestResponse, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert set(body) == ERROR_KEYS
    assert body["code"] == status
    assert body["message"]
    return body


def patient_body(**overrides: Any) -> dict[str, Any]:
    slug = uuid.uuid4().hex[:8]
    body = {
        "name": f"Ada {slug}",
        "email": f"ada-{slug}@example.org",
        "timezone": "Europe/Berlin",
        "date_of_birth": "1969-07-20",
        "allergies": ["penicillin"],
        "pregnant": False,
    }
    body.update(overrides)
    return body


def get_patient(make: Builders, who: Account, patient_id: object) -> TestResponse:
    return make.client.get(f"/v1/patients/{patient_id}", headers=who.headers)


# --- create -------------------------------------------------------------------------


def enrol_and_activate(make: Builders, doc: Account, body: dict[str, Any]) -> tuple[str, str]:
    """(patient id, one-time code): enrolled by `doc`, activated by the patient."""
    r = make.client.post("/v1/patients", json=body, headers=doc.headers)
    assert r.status_code == 202, r.get_json()
    code = r.get_json()["activation_code"]
    r = make.client.post("/v1/auth/activate", json={"activation_code": code, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["patient_id"], code


def test_clinician_enrols_a_patient_who_joins_the_list_on_activation(make: Builders) -> None:
    doc = make.clinician()
    body = patient_body()
    r = make.client.post("/v1/patients", json=body, headers=doc.headers)
    assert r.status_code == 202, r.get_json()
    data = r.get_json()
    assert set(data) == {
        "id", "email", "status", "expires_at", "created_at", "patient_id", "activation_code"
    }  # fmt: skip
    assert (data["status"], data["patient_id"], data["email"]) == ("pending", None, body["email"])
    # Until the person says yes, the record is not the clinician's to see.
    assert make.client.get("/v1/patients", headers=doc.headers).get_json() == []
    pending = make.client.get("/v1/me/enrolments", headers=doc.headers).get_json()
    assert [(e["id"], e["status"]) for e in pending] == [(data["id"], "pending")]

    r = make.client.post(
        "/v1/auth/activate", json={"activation_code": data["activation_code"], "password": PASSWORD}
    )
    assert r.status_code == 200, r.get_json()
    patient_id = r.get_json()["patient_id"]
    record = get_patient(make, doc, patient_id).get_json()
    assert record["activated"] is True
    assert record["care_team"] == [str(doc.id)]
    for field in ("name", "email", "timezone", "date_of_birth", "allergies", "pregnant"):
        assert record[field] == body[field], field
    # The code is shown once: reading the patient does not reveal it.
    assert "activation_code" not in record
    accepted = make.client.get("/v1/me/enrolments", headers=doc.headers).get_json()
    assert [(e["status"], e["patient_id"]) for e in accepted] == [("accepted", patient_id)]


def test_optional_fields_default(make: Builders) -> None:
    doc = make.clinician()
    body = patient_body()
    del body["allergies"], body["pregnant"]
    patient_id, _ = enrol_and_activate(make, doc, body)
    record = get_patient(make, doc, patient_id).get_json()
    assert record["allergies"] == []
    assert record["pregnant"] is False


def _future(clock: FrozenClock) -> str:
    return (clock.now.date() + dt.timedelta(days=2)).isoformat()


BAD_PATIENT_INPUT: list[tuple[str, Callable[[FrozenClock], dict[str, Any]], str]] = [
    ("unknown-timezone", lambda c: {"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ("timezone-abbreviation", lambda c: {"timezone": "XYZ"}, "timezone"),
    ("birth-in-future", lambda c: {"date_of_birth": _future(c)}, "date_of_birth"),
    ("birth-not-a-date", lambda c: {"date_of_birth": "1969-02-30"}, "date_of_birth"),
    ("blank-name", lambda c: {"name": "   "}, "name"),
    ("empty-name", lambda c: {"name": ""}, "name"),
    ("bad-email", lambda c: {"email": "not-an-email"}, "email"),
    ("unknown-field", lambda c: {"ssn": "123-45-6789"}, "ssn"),
    ("blank-allergy", lambda c: {"allergies": ["penicillin", "  "]}, "allergies"),
    ("allergies-not-a-list", lambda c: {"allergies": "penicillin"}, "allergies"),
    ("pregnant-not-bool", lambda c: {"pregnant": "maybe"}, "pregnant"),
]


@pytest.mark.parametrize(
    ("override", "field"),
    [pytest.param(o, f, id=i) for i, o, f in BAD_PATIENT_INPUT],
)
def test_bad_patient_input_is_422_naming_the_field(
    make: Builders,
    clock: FrozenClock,
    count_rows: Callable[[str], int],
    override: Callable[[FrozenClock], dict[str, Any]],
    field: str,
) -> None:
    doc = make.clinician()
    before = {t: count_rows(t) for t in ("users", "patients", "care_team_members")}
    r = make.client.post("/v1/patients", json=patient_body(**override(clock)), headers=doc.headers)
    body = assert_error(r, 422)
    assert field in body["errors"], body
    assert {t: count_rows(t) for t in before} == before


def test_missing_required_field_is_422(make: Builders) -> None:
    doc = make.clinician()
    body = patient_body()
    del body["timezone"]
    r = make.client.post("/v1/patients", json=body, headers=doc.headers)
    assert "timezone" in assert_error(r, 422)["errors"]


def test_patient_cannot_create_a_patient(make: Builders, count_rows: Any) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    patients = count_rows("patients")
    assert_error(make.client.post("/v1/patients", json=patient_body(), headers=pat.headers), 403)
    assert count_rows("patients") == patients


def test_anonymous_cannot_create_a_patient(make: Builders) -> None:
    assert_error(make.client.post("/v1/patients", json=patient_body()), 401)


# --- read ---------------------------------------------------------------------------


def test_clinician_lists_only_their_patients(make: Builders) -> None:
    doc, other_doc = make.clinician(), make.clinician()
    mine = {str(make.patient(doc).patient_id), str(make.patient(doc).patient_id)}
    theirs = str(make.patient(other_doc).patient_id)
    r = make.client.get("/v1/patients", headers=doc.headers)
    assert r.status_code == 200
    assert {p["id"] for p in r.get_json()} == mine
    r = make.client.get("/v1/patients", headers=other_doc.headers)
    assert [p["id"] for p in r.get_json()] == [theirs]


def test_patient_lists_only_themself(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    make.patient(doc)
    r = make.client.get("/v1/patients", headers=pat.headers)
    assert r.status_code == 200
    assert [p["id"] for p in r.get_json()] == [str(pat.patient_id)]


def test_other_patient_and_other_clinician_get_404(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    for stranger in (make.patient(doc), make.clinician()):
        assert_error(get_patient(make, stranger, pat.patient_id), 404)
    missing = assert_error(get_patient(make, doc, uuid.uuid4()), 404)
    hidden = assert_error(get_patient(make, make.clinician(), pat.patient_id), 404)
    assert set(missing) == set(hidden)


# --- update -------------------------------------------------------------------------


def test_patient_changes_name_and_timezone(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    changes = {"name": "Ada Lovelace", "timezone": "Asia/Tokyo"}
    r = make.client.patch(f"/v1/patients/{pat.patient_id}", json=changes, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    assert {k: r.get_json()[k] for k in changes} == changes
    stored = get_patient(make, doc, pat.patient_id).get_json()
    assert {k: stored[k] for k in changes} == changes


@pytest.mark.parametrize(
    "changes",
    [
        {"allergies": []},
        {"pregnant": True},
        {"email": "new-address@example.org"},
        {"date_of_birth": "1970-01-01"},
        {"allergies": ["latex"], "pregnant": True, "email": "x@example.org", "name": "New"},
    ],
    ids=["allergies", "pregnant", "email", "date_of_birth", "mixed"],
)
def test_patient_cannot_change_care_team_fields(
    make: Builders, count_rows: Any, changes: dict[str, Any]
) -> None:
    doc = make.clinician()
    pat = make.patient(doc, allergies=["penicillin"])
    before = get_patient(make, doc, pat.patient_id).get_json()
    audits = count_rows("audit_events")
    r = make.client.patch(f"/v1/patients/{pat.patient_id}", json=changes, headers=pat.headers)
    body = assert_error(r, 403)
    assert set(body["errors"]) == set(changes) - {"name", "timezone"}
    # The refusal itself is audited; no update is.
    assert count_rows("audit_events") == audits + 1
    trail = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers).json
    assert "patient.update" not in [e["subtype"] for e in trail]
    denied = [e for e in trail if e["subtype"] == "access.denied"]
    assert [(e["outcome"], e["agent"]["role"]) for e in denied] == [("4", "patient")]
    assert get_patient(make, doc, pat.patient_id).get_json() == before


def test_clinician_changes_allergies(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc, allergies=["penicillin"])
    url = f"/v1/patients/{pat.patient_id}"
    r = make.client.patch(url, json={"allergies": ["Sulfa", "latex"]}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["allergies"] == ["Sulfa", "latex"]
    assert get_patient(make, pat, pat.patient_id).get_json()["allergies"] == ["Sulfa", "latex"]


def test_update_validates_like_create(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    url = f"/v1/patients/{pat.patient_id}"
    for changes, field in (
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"name": "  "}, "name"),
        ({"blood_type": "O+"}, "blood_type"),
    ):
        body = assert_error(make.client.patch(url, json=changes, headers=doc.headers), 422)
        assert field in body["errors"]


def test_only_an_administrator_changes_the_sign_in_email(make: Builders) -> None:
    """A clinician asking to change a patient's e-mail to an address that has an
    account, or to one that has none, gets the same refusal: whether an address is
    taken is not theirs to learn. Administrators, who see every account, change it."""
    doc, admin = make.clinician(), make.admin()
    pat, other = make.patient(doc), make.patient(make.clinician())
    url = f"/v1/patients/{pat.patient_id}"
    refusals = [
        make.client.patch(url, json={"email": address}, headers=doc.headers)
        for address in (other.email.upper(), "nobody-has-this@example.org")
    ]
    assert [r.status_code for r in refusals] == [403, 403]
    assert refusals[0].get_json() == refusals[1].get_json()
    assert "email" in refusals[0].get_json()["errors"]

    r = make.client.patch(url, json={"email": other.email.upper()}, headers=admin.headers)
    assert "email" in assert_error(r, 409)["errors"]
    r = make.client.patch(url, json={"email": "jo.new@example.org"}, headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["email"] == "jo.new@example.org"
    assert r.get_json()["allergies"] is None  # an admin sees no clinical fields
    assert (
        make.client.post(
            "/v1/auth/token", json={"email": "jo.new@example.org", "password": PASSWORD}
        ).status_code
        == 200
    )
    # Nothing clinical is an administrator's to change.
    r = make.client.patch(url, json={"allergies": []}, headers=admin.headers)
    assert set(assert_error(r, 403)["errors"]) == {"allergies"}


# --- audit --------------------------------------------------------------------------


def test_patient_create_and_update_are_audited_with_before_and_after(make: Builders) -> None:
    doc = make.clinician()
    created_body = patient_body(name="Grace Hopper", allergies=["penicillin"])
    patient_id, code = enrol_and_activate(make, doc, created_body)
    url = f"/v1/patients/{patient_id}"
    r = make.client.patch(url, json={"allergies": ["latex"]}, headers=doc.headers)
    assert r.status_code == 200
    r = make.client.get(f"{url}/audit", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    events = r.get_json()
    by_type = {e["subtype"]: e for e in events}
    created = by_type["patient.create"]
    assert created["action"] == "C"
    assert created["outcome"] == "0"
    assert created["agent"] == {"who": str(doc.id), "role": "clinician"}
    assert created["entity"] == {"type": "Patient", "id": patient_id, "patient": patient_id}
    assert created["before"] is None
    assert created["after"]["name"] == "Grace Hopper"
    assert created["after"]["allergies"] == ["penicillin"]
    updated = by_type["patient.update"]
    assert updated["action"] == "U"
    assert updated["agent"]["who"] == str(doc.id)
    assert updated["before"]["allergies"] == ["penicillin"]
    assert updated["after"]["allergies"] == ["latex"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    # The one-time code is a credential: it never reaches the audit trail.
    assert code not in r.get_data(as_text=True)
