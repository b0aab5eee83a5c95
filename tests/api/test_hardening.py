"""Hostile or odd input: forged claims, broken text, deep JSON, proxies, Redis down."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import jwt
import pytest
from flask import Flask

from service import create_app
from service.config import Settings
from tests.conftest import Builders, FrozenClock, prescription_body


def test_a_re_signed_token_cannot_point_at_another_patient(
    make: Builders, settings: Settings
) -> None:
    doc_a, doc_b = make.clinician(), make.clinician()
    victim, attacker = make.patient(doc_a), make.patient(doc_b)
    make.prescription(doc_a, victim)
    token = attacker.headers["Authorization"].split()[1]
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["pid"] = str(victim.patient_id)
    forged = jwt.encode(claims, settings.secret_key, algorithm="HS256")
    r = make.client.get(
        f"/v1/patients/{victim.patient_id}/prescriptions",
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert r.status_code == 401


def test_admins_see_patients_without_clinical_fields(make: Builders) -> None:
    doc, admin = make.clinician(), make.admin()
    pat = make.patient(doc, allergies=["penicillin"], pregnant=True)
    listed = make.client.get("/v1/patients", headers=admin.headers).json
    one = make.client.get(f"/v1/patients/{pat.patient_id}", headers=admin.headers).json
    for shown in (listed[0], one):  # type: ignore[index]
        assert shown["name"].startswith("Patient")
        assert (shown["allergies"], shown["pregnant"], shown["date_of_birth"]) == (None,) * 3
    full = make.client.get(f"/v1/patients/{pat.patient_id}", headers=doc.headers).json
    assert full["allergies"] == ["penicillin"]  # type: ignore[index]


def test_list_and_care_team_reads_land_in_the_patients_audit(make: Builders) -> None:
    doc, admin = make.clinician(), make.admin()
    pat = make.patient(doc)
    assert make.client.get("/v1/patients", headers=admin.headers).status_code == 200
    url = f"/v1/patients/{pat.patient_id}"
    assert make.client.get(f"{url}/care-team", headers=admin.headers).status_code == 200
    trail = make.client.get(f"{url}/audit", headers=doc.headers).json
    reads = [(e["subtype"], e["agent"]["role"]) for e in trail]  # type: ignore[union-attr]
    assert ("patient.list", "admin") in reads
    assert ("careteam.read", "admin") in reads


@pytest.mark.parametrize("times", [["08:00\n"], ["\n08:00"], ["08:00 "]])
def test_times_with_stray_whitespace_are_refused(make: Builders, times: list[str]) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    schedule = {**prescription_body()["schedule"], "times": times}
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions",
        json=prescription_body(schedule=schedule),
        headers=doc.headers,
    )
    assert r.status_code == 422
    assert "schedule.times.0" in r.json["errors"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "field"),
    [("/v1/auth/token", "password"), ("/v1/auth/activate", "activation_code")],
)
def test_lone_surrogates_are_refused_before_hashing(make: Builders, path: str, field: str) -> None:
    body = '{"email": "a@example.org", "password": "\\ud800 x", "activation_code": "\\udfff"}'
    if path.endswith("activate"):
        body = '{"activation_code": "\\udfff", "password": "a long enough password"}'
    r = make.client.post(path, data=body, content_type="application/json")
    assert r.status_code == 422
    assert field in r.json["errors"]  # type: ignore[index]


def test_lone_surrogates_are_not_stored(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        data='{"allergies": ["\\udfff"]}',
        content_type="application/json",
        headers=doc.headers,
    )
    assert r.status_code == 422
    assert "allergies.0" in r.json["errors"]  # type: ignore[index]


def test_deeply_nested_json_is_a_bad_request(make: Builders) -> None:
    r = make.client.post("/v1/auth/token", data="[" * 100_000, content_type="application/json")
    assert r.status_code == 400
    assert set(r.json) == {"code", "status", "message", "errors"}  # type: ignore[arg-type]


@pytest.fixture
def redis_down_app(settings: Settings, clock: FrozenClock) -> Iterator[Flask]:
    app = create_app(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"))
    yield app
    app.extensions["medtrack"].db.dispose()


def test_login_with_redis_down_is_503_not_500(redis_down_app: Flask) -> None:
    r = redis_down_app.test_client().post(
        "/v1/auth/token", json={"email": "a@example.org", "password": "whatever it is"}
    )
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "5"


def test_trusted_proxy_supplies_the_client_address(
    make: Builders, settings: Settings, clock: FrozenClock
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    proxied = create_app(dataclasses.replace(settings, trusted_proxies=1))
    proxied.extensions["medtrack"] = dataclasses.replace(
        proxied.extensions["medtrack"], clock=clock
    )
    url = f"/v1/patients/{pat.patient_id}"
    headers = {**doc.headers, "X-Forwarded-For": "203.0.113.7"}
    assert proxied.test_client().get(url, headers=headers).status_code == 200
    trail = make.client.get(f"{url}/audit", headers=doc.headers).json
    reads = [e for e in trail if e["subtype"] == "patient.read"]  # type: ignore[union-attr]
    assert reads[-1]["source"]["address"] == "203.0.113.7"
    proxied.extensions["medtrack"].db.dispose()
