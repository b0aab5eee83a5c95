"""A patient's own settings over the API: language and notification privacy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Builders


def _patch(make: Builders, headers: Any, patient_id: Any, body: dict[str, Any]) -> Any:
    return make.client.patch(f"/v1/patients/{patient_id}", json=body, headers=headers)


def test_settings_default_to_english_and_discreet(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.get(f"/v1/patients/{pat.patient_id}", headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    assert (r.json["locale"], r.json["notification_privacy"]) == ("en", "discreet")


def test_patient_sets_own_locale_and_privacy_and_it_is_audited(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    changes = {"locale": "es", "notification_privacy": "detailed"}
    r = _patch(make, pat.headers, pat.patient_id, changes)
    assert r.status_code == 200, r.get_json()
    assert {k: r.json[k] for k in changes} == changes
    stored = make.client.get(f"/v1/patients/{pat.patient_id}", headers=doc.headers).json
    assert {k: stored[k] for k in changes} == changes
    trail = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers).json
    update = next(e for e in trail if e["subtype"] == "patient.update")
    assert update["before"]["notification_privacy"] == "discreet"
    assert update["after"]["notification_privacy"] == "detailed"
    assert (update["before"]["locale"], update["after"]["locale"]) == ("en", "es")


@pytest.mark.parametrize(
    ("field", "value"),
    [("locale", "fr"), ("locale", ""), ("notification_privacy", "loud"), ("locale", 3)],
)
def test_bad_settings_are_refused_naming_the_field(make: Builders, field: str, value: Any) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = _patch(make, pat.headers, pat.patient_id, {field: value})
    assert r.status_code == 422, r.get_json()
    assert field in r.json["errors"]
    after = make.client.get(f"/v1/patients/{pat.patient_id}", headers=pat.headers).json
    assert (after["locale"], after["notification_privacy"]) == ("en", "discreet")


def test_a_patient_cannot_set_another_patients_settings(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    other = make.patient(doc)
    r = _patch(make, pat.headers, other.patient_id, {"notification_privacy": "detailed"})
    assert r.status_code in (403, 404)
    after = make.client.get(f"/v1/patients/{other.patient_id}", headers=doc.headers).json
    assert after["notification_privacy"] == "discreet"


@pytest.mark.parametrize(
    ("field", "value"), [("notification_privacy", "detailed"), ("locale", "es")]
)
def test_how_the_patient_is_told_is_theirs_not_the_care_teams(
    make: Builders, field: str, value: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = _patch(make, doc.headers, pat.patient_id, {field: value})
    assert r.status_code == 403, r.get_json()
    assert field in r.json["errors"]
    after = make.client.get(f"/v1/patients/{pat.patient_id}", headers=pat.headers).json
    assert (after["locale"], after["notification_privacy"]) == ("en", "discreet")
