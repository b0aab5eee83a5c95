"""Bad prescription input: 400/422 in the one error shape, naming the field, writing nothing.

Also: X-Request-ID on every response (and into the audit trail), and the body limit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from service.config import Settings
from tests.conftest import Account, Builders, prescription_body

Count = Callable[[str], int]
ERROR_KEYS = {"code", "status", "message", "errors"}


def assert_error_shape(r: TestResponse) -> dict[str, Any]:
    body: dict[str, Any] = r.get_json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == r.status_code
    assert isinstance(body["status"], str)
    assert body["status"]
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["errors"], dict)
    for path, messages in body["errors"].items():
        assert isinstance(path, str)
        assert messages
        assert all(isinstance(m, str) and m for m in messages)
    return body


def rx_url(patient: Account) -> str:
    return f"/v1/patients/{patient.patient_id}/prescriptions"


def _schedule(**changes: Any) -> dict[str, Any]:
    return {**prescription_body()["schedule"], **changes}


def _json(**overrides: Any) -> str:
    return json.dumps(prescription_body(**overrides))


# (id, raw body, expected statuses, field path that must be named)
BAD_INPUT: list[tuple[str, str, tuple[int, ...], str]] = [
    ("negative-dose", _json(dose={"amount": -5, "unit": "mg"}), (422,), "dose.amount"),
    ("zero-dose", _json(dose={"amount": 0, "unit": "mg"}), (422,), "dose.amount"),
    ("absurd-dose", _json(dose={"amount": 50000, "unit": "mg"}), (422,), "dose.amount"),
    ("too-many-decimals", _json(dose={"amount": 0.00001, "unit": "mg"}), (422,), "dose.amount"),
    ("unknown-unit", _json(dose={"amount": 10, "unit": "kg"}), (422,), "dose.unit"),
    ("unknown-route", _json(route="telepathic"), (422,), "route"),
    ("time-25:99", _json(schedule=_schedule(times=["25:99"])), (422,), "schedule.times.0"),
    ("time-8am", _json(schedule=_schedule(times=["08:00", "8am"])), (422,), "schedule.times.1"),
    ("no-times", _json(schedule=_schedule(times=[])), (422,), "schedule.times"),
    (
        "repeated-times",
        _json(schedule=_schedule(times=["08:00", "08:00"])),
        (422,),
        "schedule.times",
    ),
    (
        "end-before-start",
        _json(start_date="2026-01-05", end_date="2026-01-04"),
        (422,),
        "end_date",
    ),
    (
        "funday",
        _json(schedule=_schedule(days_of_week=["mon", "funday"])),
        (422,),
        "schedule.days_of_week.1",
    ),
    (
        "as-needed-without-max",
        _json(schedule=_schedule(times=[], as_needed=True, max_doses_per_day=None)),
        (422,),
        "schedule.max_doses_per_day",
    ),
    ("unknown-field", _json(colour="blue"), (422,), "colour"),
    (
        "unknown-nested-field",
        _json(dose={"amount": 10, "unit": "mg", "per": "day"}),
        (422,),
        "dose.per",
    ),
    ("malformed-json", '{"drug": "escitalopram", "dose": {', (400,), "body"),
    ("json-array", json.dumps([prescription_body()]), (400, 422), "body"),
    ("json-string", json.dumps("escitalopram"), (400, 422), "body"),
    ("string-for-number", _json(dose={"amount": "ten", "unit": "mg"}), (422,), "dose.amount"),
    ("numeric-string-dose", _json(dose={"amount": "10", "unit": "mg"}), (422,), "dose.amount"),
    (
        "fractional-every-n-days",
        _json(schedule=_schedule(every_n_days=1.5)),
        (422,),
        "schedule.every_n_days",
    ),
    (
        "fractional-max-doses",
        _json(schedule=_schedule(times=[], as_needed=True, max_doses_per_day=2.5)),
        (422,),
        "schedule.max_doses_per_day",
    ),
    ("nan-dose", _json(dose={"amount": "NaN", "unit": "mg"}), (422,), "dose.amount"),
    ("huge-string", _json(drug="x" * 100_000), (422,), "drug"),
    ("nul-character", _json(drug="escitalo\u0000pram"), (422,), "drug"),
    ("nul-in-instructions", _json(instructions="with\u0000food"), (422,), "instructions"),
    (
        "missing-drug",
        json.dumps({k: v for k, v in prescription_body().items() if k != "drug"}),
        (422,),
        "drug",
    ),
    ("start-not-a-date", _json(start_date="2026-02-30"), (422,), "start_date"),
]


@pytest.mark.parametrize(
    ("raw", "statuses", "field"),
    [pytest.param(raw, s, f, id=case) for case, raw, s, f in BAD_INPUT],
)
def test_bad_prescription_is_refused_naming_the_field_and_writes_nothing(
    make: Builders,
    count_rows: Count,
    raw: str,
    statuses: tuple[int, ...],
    field: str,
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    before = {t: count_rows(t) for t in ("prescriptions", "prescription_versions", "audit_events")}
    r = make.client.post(
        rx_url(pat), data=raw, content_type="application/json", headers=doc.headers
    )
    assert r.status_code in statuses, r.get_data(as_text=True)
    body = assert_error_shape(r)
    assert field in body["errors"], body["errors"]
    assert {t: count_rows(t) for t in before} == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dose": {"amount": -1, "unit": "mg"}}, "dose.amount"),
        ({"dose": {"amount": 50000, "unit": "mg"}}, "dose.amount"),
        ({"end_date": "2025-01-01"}, "end_date"),
        ({"schedule": {"times": ["24:00"]}}, "schedule.times.0"),
        ({"status": "paused"}, "status"),
        ({"patient_id": "00000000-0000-0000-0000-000000000000"}, "patient_id"),
    ],
    ids=["negative-dose", "absurd-dose", "end-before-start", "time-24:00", "status", "patient"],
)
def test_bad_revision_is_refused_and_writes_nothing(
    make: Builders, count_rows: Count, change: dict[str, Any], field: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat)
    r = make.client.patch(f"{rx_url(pat)}/{rx['id']}", json=change, headers=doc.headers)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert field in assert_error_shape(r)["errors"]
    assert count_rows("prescription_versions") == 1
    current = make.client.get(f"{rx_url(pat)}/{rx['id']}", headers=doc.headers).get_json()
    assert current == rx


def test_form_encoded_body_is_refused(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.post(rx_url(pat), data={"drug": "escitalopram"}, headers=doc.headers)
    assert 400 <= r.status_code < 500
    assert_error_shape(r)
    assert count_rows("prescriptions") == 0


# --- request ids --------------------------------------------------------------------


def test_every_response_has_a_request_id(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    responses = [
        make.client.get("/healthz"),
        make.client.get("/v1/me"),
        make.client.get("/v1/me", headers=doc.headers),
        make.client.get("/v1/nowhere"),
        make.client.post(rx_url(pat), json=prescription_body(), headers=doc.headers),
        make.client.post(rx_url(pat), json={"drug": ""}, headers=doc.headers),
        make.client.post(
            rx_url(pat), data="{", content_type="application/json", headers=doc.headers
        ),
        make.client.delete("/v1/me", headers=doc.headers),
    ]
    assert [r.status_code for r in responses] == [200, 401, 200, 404, 201, 422, 400, 405]
    ids = [r.headers.get("X-Request-ID") for r in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)


def test_client_request_id_is_echoed_and_audited_beside_the_servers(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rid = "mobile-7f3a.42:retry-1"
    sent = [
        make.client.post(
            rx_url(pat),
            json=prescription_body(drug=drug),
            headers={**doc.headers, "X-Request-ID": rid},
        )
        for drug in ("sertraline", "metformin")
    ]
    assert [r.status_code for r in sent] == [201, 201]
    assert [r.headers["X-Client-Request-ID"] for r in sent] == [rid, rid]
    server_ids = [r.headers["X-Request-ID"] for r in sent]
    assert rid not in server_ids
    assert len(set(server_ids)) == 2
    events = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers).get_json()
    created = [e for e in events if e["subtype"] == "prescription.create"]
    assert [e["entity"]["id"] for e in created] == [r.get_json()["id"] for r in sent]
    # A client repeating an id cannot make two requests look like one in the trail.
    assert [e["source"]["request_id"] for e in created] == server_ids
    assert [e["source"]["client_request_id"] for e in created] == [rid, rid]


@pytest.mark.parametrize(
    "bad",
    ["x" * 65, "has space", "new\u00e9line", "<script>"],
    ids=["long", "space", "non-ascii", "markup"],
)
def test_malformed_request_id_is_replaced(make: Builders, bad: str) -> None:
    r = make.client.get("/healthz", headers={"X-Request-ID": bad.encode("utf-8").decode("latin-1")})
    assert r.headers["X-Request-ID"]
    assert r.headers["X-Request-ID"] != bad
    assert "X-Client-Request-ID" not in r.headers


def test_error_responses_echo_the_client_request_id(make: Builders) -> None:
    r = make.client.get("/v1/me", headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 401
    assert r.headers["X-Client-Request-ID"] == "abc-123"
    assert r.headers["X-Request-ID"] != "abc-123"


# --- body limit ---------------------------------------------------------------------


def test_body_over_the_limit_is_413(make: Builders, settings: Settings, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    body = prescription_body(instructions="x" * settings.max_body_bytes)
    raw = json.dumps(body)
    assert len(raw.encode()) > settings.max_body_bytes
    r = make.client.post(
        rx_url(pat), data=raw, content_type="application/json", headers=doc.headers
    )
    assert r.status_code == 413
    assert_error_shape(r)
    assert r.headers.get("X-Request-ID")
    assert count_rows("prescriptions") == 0
