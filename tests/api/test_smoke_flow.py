"""The walk-through of the README, end to end over the API."""

from __future__ import annotations

from tests.conftest import Builders


def test_clinician_prescribes_and_patient_reads(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    r = make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=pat.headers)
    assert r.status_code == 200
    assert [p["id"] for p in r.json] == [rx["id"]]
    assert r.json[0]["dose"] == {"amount": 10.0, "unit": "mg"}
