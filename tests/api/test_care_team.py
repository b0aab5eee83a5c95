"""Care teams over the API: administrators add and end clinicians' memberships."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.conftest import Account, Builders


def assert_error(r: TestResponse, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    return body


def add(make: Builders, who: Account, patient: Account, clinician_id: object) -> TestResponse:
    return make.client.post(
        f"/v1/patients/{patient.patient_id}/care-team",
        json={"clinician_id": str(clinician_id)},
        headers=who.headers,
    )


def remove(make: Builders, who: Account, patient: Account, clinician_id: object) -> TestResponse:
    return make.client.delete(
        f"/v1/patients/{patient.patient_id}/care-team/{clinician_id}", headers=who.headers
    )


def read(make: Builders, who: Account, patient: Account) -> TestResponse:
    return make.client.get(f"/v1/patients/{patient.patient_id}", headers=who.headers)


def test_admin_adds_a_clinician_who_can_then_read(make: Builders) -> None:
    doc, second, admin = make.clinician(), make.clinician(), make.admin()
    pat = make.patient(doc)
    assert_error(read(make, second, pat), 404)
    r = add(make, admin, pat, second.id)
    assert r.status_code == 201, r.get_json()
    team = {m["clinician_id"]: m["email"] for m in r.get_json()}
    assert team == {str(doc.id): doc.email, str(second.id): second.email}
    assert read(make, second, pat).status_code == 200
    assert set(read(make, doc, pat).get_json()["care_team"]) == {str(doc.id), str(second.id)}
    r = make.client.get("/v1/patients", headers=second.headers)
    assert [p["id"] for p in r.get_json()] == [str(pat.patient_id)]
    # The new member also writes clinical records.
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"allergies": ["latex"]}, headers=second.headers
    )
    assert r.status_code == 200


def test_care_team_is_readable_by_the_team_and_the_patient(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    for who in (doc, pat):
        r = make.client.get(f"/v1/patients/{pat.patient_id}/care-team", headers=who.headers)
        assert r.status_code == 200
        assert [m["clinician_id"] for m in r.get_json()] == [str(doc.id)]


@pytest.mark.parametrize("kind", ["patient-user", "admin", "unknown-id"])
def test_adding_someone_who_is_not_a_clinician_is_422(
    make: Builders, count_rows: Any, kind: str
) -> None:
    doc, admin = make.clinician(), make.admin()
    pat = make.patient(doc)
    other = make.patient(doc)
    target = {"patient-user": other.id, "admin": admin.id, "unknown-id": uuid.uuid4()}[kind]
    members = count_rows("care_team_members")
    body = assert_error(add(make, admin, pat, target), 422)
    assert "clinician_id" in body["errors"]
    assert count_rows("care_team_members") == members


def test_adding_a_member_twice_is_409(make: Builders, count_rows: Any) -> None:
    doc, admin = make.clinician(), make.admin()
    pat = make.patient(doc)
    members = count_rows("care_team_members")
    assert_error(add(make, admin, pat, doc.id), 409)
    assert count_rows("care_team_members") == members


def test_only_an_admin_changes_the_care_team(make: Builders, count_rows: Any) -> None:
    doc, second = make.clinician(), make.clinician()
    pat = make.patient(doc)
    members = count_rows("care_team_members")
    assert_error(add(make, doc, pat, second.id), 403)
    assert_error(add(make, pat, pat, second.id), 403)
    assert_error(remove(make, doc, pat, doc.id), 403)
    assert count_rows("care_team_members") == members


def test_removal_ends_the_membership_and_keeps_the_row(make: Builders, count_rows: Any) -> None:
    doc, second, admin = make.clinician(), make.clinician(), make.admin()
    pat = make.patient(doc)
    assert add(make, admin, pat, second.id).status_code == 201
    members = count_rows("care_team_members")
    r = remove(make, admin, pat, doc.id)
    assert r.status_code == 200, r.get_json()
    assert [m["clinician_id"] for m in r.get_json()] == [str(second.id)]
    assert count_rows("care_team_members") == members
    assert_error(read(make, doc, pat), 404)
    assert make.client.get("/v1/patients", headers=doc.headers).get_json() == []
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"allergies": []}, headers=doc.headers
    )
    assert_error(r, 404)
    assert read(make, second, pat).status_code == 200
    # Ended memberships are not current: removing again is 404, re-adding works.
    assert_error(remove(make, admin, pat, doc.id), 404)
    assert add(make, admin, pat, doc.id).status_code == 201
    assert read(make, doc, pat).status_code == 200


def test_removing_the_last_clinician_is_409(make: Builders, count_rows: Any) -> None:
    doc, admin = make.clinician(), make.admin()
    pat = make.patient(doc)
    assert_error(remove(make, admin, pat, doc.id), 409)
    assert read(make, doc, pat).status_code == 200


def test_care_team_changes_are_audited(make: Builders) -> None:
    doc, second, admin = make.clinician(), make.clinician(), make.admin()
    pat = make.patient(doc)
    assert add(make, admin, pat, second.id).status_code == 201
    assert remove(make, admin, pat, doc.id).status_code == 200
    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=second.headers)
    assert r.status_code == 200
    events = {e["subtype"]: e for e in r.get_json()}
    assert events["careteam.add"]["agent"]["who"] == str(admin.id)
    assert events["careteam.add"]["after"] == {"clinician_id": str(second.id)}
    assert events["careteam.remove"]["before"] == {"clinician_id": str(doc.id)}
