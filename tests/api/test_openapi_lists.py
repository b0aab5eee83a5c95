"""Every list operation answers X-Total-Count: the count of the whole list (every page,
with the same filters), not the length of the page sent."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from service.domain.accounts import Role
from tests.conftest import Account, Builders, prescription_body

JSON = "application/json"
QUERY = {"q": "diaz", "from": "2026-12-05", "to": "2026-12-06"}


def _list_operations(client: FlaskClient) -> list[tuple[str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json
    assert spec is not None
    return [
        (path, item["get"])
        for path, item in spec["paths"].items()
        if "get" in item
        and item["get"]["responses"]["200"]
        .get("content", {})
        .get(JSON, {})
        .get("schema", {})
        .get("type")
        == "array"
    ]


def _caller(path: str, accounts: dict[str, Account]) -> Account:
    if path.startswith(("/v1/users", "/v1/admin")):
        return accounts["admin"]
    if path.startswith(("/v1/me/taper-plans", "/v1/me/devices", "/v1/me/notices")):
        return accounts["patient"]
    return accounts["clinician"]


def _total(r: Any) -> int:
    assert r.status_code == 200, r.json
    return int(r.headers["X-Total-Count"])


def test_every_list_answers_the_total_of_the_whole_list(
    client: FlaskClient, make: Builders
) -> None:
    doctor = make.clinician()
    admin = make.staff(Role.ADMIN)
    make.clinician()
    patient = make.patient(doctor)
    make.patient(doctor)
    rx = make.prescription(doctor, patient)
    make.prescription(
        doctor,
        patient,
        **prescription_body(
            drug="ibuprofen",
            dose={"amount": 400, "unit": "mg"},
            schedule={"times": [], "as_needed": True, "max_doses_per_day": 3},
        ),
    )
    r = client.patch(
        f"/v1/patients/{patient.patient_id}/prescriptions/{rx['id']}",
        json={"instructions": "with breakfast", "reason": "clearer"},
        headers=doctor.headers,
    )
    assert r.status_code == 200, r.json
    accounts = {"admin": admin, "clinician": doctor, "patient": patient}
    operations = _list_operations(client)
    assert len(operations) >= 19
    for path, op in operations:
        url = path.replace("{patient_id}", str(patient.patient_id)).replace("{rx_id}", rx["id"])
        who = _caller(path, accounts)
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        query = {k: v for k, v in QUERY.items() if k in names}
        whole = client.get(
            url,
            query_string={**query, "limit": 50} if "limit" in names else query,
            headers=who.headers,
        )
        total = _total(whole)
        assert total == len(whole.json), (path, total)  # type: ignore[arg-type]
        # Reading the audit trail is itself audited: each read adds one entry to it.
        grows = 1 if path.endswith("/audit") else 0
        if "limit" in names and total > 1:
            page = client.get(url, query_string={**query, "limit": 1}, headers=who.headers)
            assert (len(page.json), _total(page)) == (1, total + grows), path  # type: ignore[arg-type]
            if "offset" in names:
                end = total + 2 * grows
                last = client.get(
                    url, query_string={**query, "limit": 1, "offset": end}, headers=who.headers
                )
                assert (last.json, _total(last)) == ([], end), path


def test_the_totals_count_what_the_filters_keep(client: FlaskClient, make: Builders) -> None:
    doctor = make.clinician()
    patient = make.patient(doctor)
    for drug in ("escitalopram", "atorvastatin", "amlodipine"):
        make.prescription(doctor, patient, drug=drug)
    url = f"/v1/patients/{patient.patient_id}/prescriptions"
    r = client.get(url, query_string={"limit": 2}, headers=doctor.headers)
    assert (len(r.json), r.headers["X-Total-Count"]) == (2, "3")  # type: ignore[arg-type]
    r = client.get(url, query_string={"status": "paused", "limit": 2}, headers=doctor.headers)
    assert (r.json, r.headers["X-Total-Count"]) == ([], "0")
    r = client.get("/v1/patients", query_string={"q": "no such name"}, headers=doctor.headers)
    assert (r.json, r.headers["X-Total-Count"]) == ([], "0")
    # A patient lists only themself.
    r = client.get("/v1/patients", headers=patient.headers)
    assert (len(r.json), r.headers["X-Total-Count"]) == (1, "1")  # type: ignore[arg-type]
    r = client.get("/v1/patients", query_string={"offset": 1}, headers=patient.headers)
    assert (r.json, r.headers["X-Total-Count"]) == ([], "1")
