"""Refused requests by authenticated callers are recorded under the targeted patient."""

from __future__ import annotations

import uuid
from typing import Any

from tests.conftest import Builders


def _trail(make: Builders, headers: dict[str, str], patient_id: Any) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/patients/{patient_id}/audit", headers=headers)
    assert r.status_code == 200, r.json
    return r.json  # type: ignore[return-value]


def test_another_clinicians_attempt_is_in_the_patients_audit(make: Builders) -> None:
    doc, outsider = make.clinician(), make.clinician()
    pat = make.patient(doc)
    url = f"/v1/patients/{pat.patient_id}/prescriptions"
    r = make.client.get(url, headers={**outsider.headers, "X-Request-ID": "probe-1"})
    assert r.status_code == 404
    denied = [e for e in _trail(make, doc.headers, pat.patient_id) if e["outcome"] != "0"]
    assert len(denied) == 1
    entry = denied[0]
    assert entry["subtype"] == "access.denied"
    assert entry["outcome"] == "4"
    assert entry["agent"] == {"who": str(outsider.id), "role": "clinician"}
    assert entry["outcome_desc"] == f"404 GET {url}"
    assert entry["source"]["client_request_id"] == "probe-1"
    assert entry["source"]["request_id"] == r.headers["X-Request-ID"]


def test_a_probe_of_an_unknown_patient_is_recorded_without_a_patient(
    make: Builders, count_rows: Any
) -> None:
    doc = make.clinician()
    before = count_rows("audit_events")
    r = make.client.get(f"/v1/patients/{uuid.uuid4()}", headers=doc.headers)
    assert r.status_code == 404
    assert count_rows("audit_events") == before + 1


def test_anonymous_and_validation_failures_are_not_refusals(
    make: Builders, count_rows: Any
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    before = count_rows("audit_events")
    assert make.client.get(f"/v1/patients/{pat.patient_id}").status_code == 401
    bad = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions", json={}, headers=doc.headers
    )
    assert bad.status_code == 422
    assert count_rows("audit_events") == before
