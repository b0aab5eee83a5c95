"""Query parameters as the README's conventions promise: every error about one is keyed
`query.<name>`, whoever finds it (the schema or a use case); a window's bounds take
instants with offsets (an unencoded `+` too) or dates, read as the patient's local days.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import Account, Builders, FrozenClock, prescription_body

# Values that pass, for the parameters an operation requires besides the one tried.
GOOD = {"from": "2027-11-07", "to": "2027-11-07", "q": "diaz"}


def _bad(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "no-such-value"
    if schema.get("type") == "integer":
        return "many"
    if "maxLength" in schema:
        return "x" * (schema["maxLength"] + 1)
    return "yesterday"


def _query_operations(client: FlaskClient) -> list[tuple[str, str, list[dict[str, Any]]]]:
    spec = client.get("/openapi.json").json
    assert spec is not None
    return [
        (path, method, [p for p in op.get("parameters", []) if p["in"] == "query"])
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method == "get" and any(p["in"] == "query" for p in op.get("parameters", []))
    ]


def _url(path: str, patient: Account) -> str:
    filled = path.replace("{patient_id}", str(patient.patient_id))
    while "{" in filled:
        start, end = filled.index("{"), filled.index("}")
        filled = filled[:start] + str(uuid.uuid4()) + filled[end + 1 :]
    return filled


def test_every_query_parameter_error_is_keyed_query_dot_name(
    client: FlaskClient, make: Builders
) -> None:
    doctor = make.clinician()
    patient = make.patient(doctor)
    operations = _query_operations(client)
    assert len(operations) >= 18
    tried = 0
    for path, _method, params in operations:
        url = _url(path, patient)
        required = {p["name"]: GOOD[p["name"]] for p in params if p.get("required")}
        for param in params:
            query = {**required, param["name"]: _bad(param["schema"])}
            r = client.get(url, query_string=query, headers=doctor.headers)
            assert r.status_code == 422, (path, param["name"], r.json)
            errors = r.json["errors"]  # type: ignore[index]
            assert f"query.{param['name']}" in errors, (path, errors)
            assert all(key.startswith("query.") for key in errors), (path, errors)
            tried += 1
    assert tried >= 30


@pytest.mark.parametrize("path", ["doses", "adherence"])
def test_a_use_case_window_error_is_keyed_as_the_query_parameter(
    client: FlaskClient, make: Builders, path: str
) -> None:
    doctor = make.clinician()
    patient = make.patient(doctor)
    url = f"/v1/patients/{patient.patient_id}/{path}"
    r = client.get(
        url, query_string={"from": "2027-11-07", "to": "2027-11-06"}, headers=doctor.headers
    )
    assert r.status_code == 422
    assert r.json["errors"] == {"query.to": ["Must be after from."]}  # type: ignore[index]
    r = client.get(
        url, query_string={"from": "2026-01-01", "to": "2027-12-31"}, headers=doctor.headers
    )
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["query.to"]  # type: ignore[index]
    assert "At most" in r.json["errors"]["query.to"][0]  # type: ignore[index]


@pytest.fixture
def escitalopram_patient(make: Builders, clock: FrozenClock) -> tuple[Account, Account]:
    doctor = make.clinician()
    patient = make.patient(doctor, timezone="America/New_York")
    make.prescription(doctor, patient, **prescription_body(start_date="2026-01-05"))
    return doctor, patient


def _doses(client: FlaskClient, who: Account, patient: Account, query: str) -> list[Any]:
    r = client.get(
        f"/v1/patients/{patient.patient_id}/doses", query_string=query, headers=who.headers
    )
    assert r.status_code == 200, r.json
    return r.json  # type: ignore[return-value]


def test_a_date_is_the_patients_local_day(
    client: FlaskClient, escitalopram_patient: tuple[Account, Account]
) -> None:
    doctor, patient = escitalopram_patient
    # 7 November 2027: New York's clocks go back at 02:00, so the day lasts 25 hours.
    day = _doses(client, doctor, patient, "from=2027-11-07&to=2027-11-07")
    assert [d["local_time"] for d in day] == ["2027-11-07T08:00:00-05:00"]
    # The same day by its instants: local midnight (EDT) to the next midnight (EST).
    same = _doses(
        client,
        doctor,
        patient,
        "from=2027-11-07T04:00:00Z&to=2027-11-08T05:00:00Z",
    )
    assert same == day
    # A date and an instant mix: from the day's start to 08:00 local, exclusive.
    assert _doses(client, doctor, patient, "from=2027-11-07&to=2027-11-07T13:00:00Z") == []
    week = _doses(client, doctor, patient, "from=2027-11-01&to=2027-11-07")
    assert len(week) == 7
    # A month of local days is allowed although it gains an hour as the clocks go back.
    assert len(_doses(client, doctor, patient, "from=2027-10-08&to=2027-11-07")) == 31


def test_an_unencoded_plus_in_an_offset_is_read_as_plus(
    client: FlaskClient, escitalopram_patient: tuple[Account, Account]
) -> None:
    doctor, patient = escitalopram_patient
    # Sent as typed: the query string's "+" decodes to a space.
    raw = "from=2027-11-07T00:00:00+00:00&to=2027-11-08T06:00:00+01:00"
    assert [d["local_time"] for d in _doses(client, doctor, patient, raw)] == [
        "2027-11-07T08:00:00-05:00"
    ]
    r = client.get(
        f"/v1/patients/{patient.patient_id}/doses",
        query_string="from=2027-11-07T00:00:00&to=2027-11-08",
        headers=doctor.headers,
    )
    assert r.status_code == 422
    assert list(r.json["errors"]) == ["query.from"]  # type: ignore[index]
    assert "2026-12-05" in r.json["errors"]["query.from"][0]  # type: ignore[index]
