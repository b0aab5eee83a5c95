"""Prescribing in the console: the API's body, schema and use cases, so that what the
API refuses the console refuses with the same findings, and what it stores (the
prescription, its findings, its audit entries) is the same as through the API."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from markupsafe import escape
from werkzeug.test import TestResponse

from service.db.uow import Database
from tests.conftest import Account, Builders, prescription_body
from tests.console.conftest import Console, audited_writes
from tests.console.conftest import neutral as neutral

Count = Callable[[str], int]
STORED = ("prescriptions", "prescription_versions", "prescription_findings")
_FINDING = re.compile(
    r'<li class="finding [^"]*" data-finding-id="([^"]+)" data-severity="([^"]+)" '
    r'data-kind="([^"]+)"'
)


def form_of(body: dict[str, Any]) -> dict[str, Any]:
    """The console's form for an API body: the same prescription, typed in."""
    s = body["schedule"]
    form: dict[str, Any] = {
        "drug": body["drug"],
        "dose.amount": str(body["dose"]["amount"]),
        "dose.unit": body["dose"]["unit"],
        "route": body["route"],
        "schedule.times": ", ".join(s["times"]),
        "schedule.every_n_days": str(s["every_n_days"]),
        "start_date": body["start_date"],
        "end_date": body["end_date"] or "",
        "instructions": body["instructions"] or "",
        "acknowledge": body.get("acknowledge", []),
    }
    if "override" in body:
        form["override_reason"] = body["override"]["reason"]
    if body.get("confirm_unlisted"):
        form.update(confirm_unlisted="on", unlisted_reason=body["unlisted_reason"])
    return form


def rx_path(pat: Account, tail: str = "") -> str:
    return f"/console/patients/{pat.patient_id}/prescribe{tail}"


def open_form(console: Console, pat: Account) -> str:
    """The prescribe page, as a clinician opens it before posting it (its CSRF token)."""
    r = console.get(rx_path(pat))
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data(as_text=True)


def through_api(make: Builders, doc: Account, pat: Account, body: dict[str, Any]) -> TestResponse:
    url = f"/v1/patients/{pat.patient_id}/prescriptions"
    return make.client.post(url, json=body, headers=doc.headers)


def shown(page: TestResponse) -> list[tuple[str, str, str]]:
    """The findings a console page or fragment shows: (id, severity, kind)."""
    return _FINDING.findall(page.get_data(as_text=True))


def given(findings: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(f["id"], f["severity"], f["kind"]) for f in findings]


def stored(count_rows: Count) -> dict[str, int]:
    return {table: count_rows(table) for table in STORED}


def regimen(make: Builders, doc: Account, pat: Account) -> list[Any]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    return neutral(sorted(r.get_json(), key=lambda p: p["created_at"] + p["drug"]))  # type: ignore[no-any-return]


def writes_since(database: Database, pat: Account, setup: int) -> list[dict[str, Any]]:
    """The patient's audited writes after the first `setup` (its registration, which
    names the patient, and the regimen entered through the API)."""
    return audited_writes(database, pat.patient_id)[setup:]


def twins(
    make: Builders, doc: Account, rx: Sequence[dict[str, Any]] = (), **patient: Any
) -> tuple[Account, Account]:
    """Two patients with the same record and regimen (entered through the API): one
    prescribed for through the API, the other through the console."""
    pair = make.patient(doc, **patient), make.patient(doc, **patient)
    for pat in pair:
        for overrides in rx:
            make.prescription(doc, pat, **overrides)
    return pair


ESCITALOPRAM = {"drug": "Lexapro"}
DIAZEPAM = {"drug": "Valium", "dose": {"amount": 5, "unit": "mg"}}
TRAMADOL = {"drug": "tramadol", "dose": {"amount": 50, "unit": "mg"}}
SERTRALINE = {"drug": "sertraline", "dose": {"amount": 50, "unit": "mg"}}
PHENELZINE = {"drug": "phenelzine", "dose": {"amount": 15, "unit": "mg"}}
SCHEDULE = prescription_body()["schedule"]

REFUSED = {
    "majors-unacknowledged": ([ESCITALOPRAM, DIAZEPAM], {}, {**TRAMADOL}, 409),
    "major-wrong-id": ([ESCITALOPRAM], {}, {**TRAMADOL, "acknowledge": ["F0"]}, 409),
    "contraindicated-pair": ([SERTRALINE], {}, PHENELZINE, 409),
    "allergy": ([], {"allergies": ["penicillins"]}, {"drug": "amoxicillin"}, 409),
    "pregnancy": ([], {"pregnant": True}, {"drug": "lisinopril"}, 409),
    "dose-above-label": ([], {}, {"dose": {"amount": 200, "unit": "mg"}}, 409),
    "unknown-drug": ([], {}, {"drug": "escitalopran"}, 422),
    "bad-times": ([], {}, {"schedule": {**SCHEDULE, "times": ["8am", "25:00"]}}, 422),
    "route-of-drug": ([], {}, {"drug": "warfarin", "route": "topical"}, 422),
    "blank-override": ([SERTRALINE], {}, {**PHENELZINE, "override": {"reason": "  "}}, 422),
}


@pytest.mark.parametrize(("rx", "patient", "overrides", "status"), REFUSED.values(), ids=REFUSED)
def test_what_the_api_refuses_the_console_refuses_with_the_same_findings(
    signed_in: tuple[Console, Account],
    make: Builders,
    database: Database,
    count_rows: Count,
    rx: list[dict[str, Any]],
    patient: dict[str, Any],
    overrides: dict[str, Any],
    status: int,
) -> None:
    console, doc = signed_in
    pair = by_api, by_console = twins(make, doc, rx, **patient)
    before = [stored(count_rows), *(audited_writes(database, p.patient_id) for p in pair)]
    body = prescription_body(**overrides)
    open_form(console, by_console)

    api = through_api(make, doc, by_api, body)
    page = console.post(rx_path(by_console), form_of(body))

    assert api.status_code == status, api.get_json()
    assert page.status_code == status, page.get_data(as_text=True)
    refusal: dict[str, Any] = api.get_json()
    text_shown = page.get_data(as_text=True)
    assert shown(page) == given(refusal.get("findings", []))
    for messages in refusal["errors"].values():
        for message in messages:
            assert str(escape(message)) in text_shown
    for suggestion in refusal.get("suggestions", []):
        assert f"<strong>{suggestion['name']}</strong>" in text_shown
    if status == 409:
        assert refusal["message"] in text_shown
        assert len(shown(page)) >= 1
    # What was typed is kept.
    assert f'value="{escape(body["drug"])}"' in text_shown
    assert [stored(count_rows), *(audited_writes(database, p.patient_id) for p in pair)] == before


def check(console: Console, pat: Account, body: dict[str, Any]) -> TestResponse:
    r = console.htmx("POST", rx_path(pat, "/check"), form_of(body))
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "<html" not in r.get_data(as_text=True)
    return r


def prescribed(console: Console, pat: Account, body: dict[str, Any]) -> str:
    """Prescribe through the console form; the flashed message."""
    r = console.post(rx_path(pat), form_of(body))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert r.headers["Location"].endswith(f"/console/patients/{pat.patient_id}")
    with console.client.session_transaction("/console/") as session:
        flashes = session.pop("_flashes", [])
    assert len(flashes) == 1
    return str(flashes[0][1])


def test_lexapro_valium_then_tramadol_stores_what_the_api_stores(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    by_api, by_console = twins(make, doc)
    setup = len(audited_writes(database, by_api.patient_id))
    open_form(console, by_console)

    lexapro = prescription_body(**ESCITALOPRAM)
    assert shown(check(console, by_console, lexapro)) == []
    assert "Prescribed escitalopram 10 mg" in prescribed(console, by_console, lexapro)
    assert through_api(make, doc, by_api, lexapro).status_code == 201

    valium = prescription_body(**DIAZEPAM)
    live = check(console, by_console, valium)
    assert [(sev, kind) for _, sev, kind in shown(live)] == [("moderate", "drug-drug")]
    assert 'class="badge sev-moderate">moderate</span>' in live.get_data(as_text=True)
    assert "Prescribed diazepam 5 mg" in prescribed(console, by_console, valium)
    assert through_api(make, doc, by_api, valium).status_code == 201

    tramadol = prescription_body(**TRAMADOL)
    live = check(console, by_console, tramadol)
    majors = [fid for fid, sev, _ in shown(live) if sev == "major"]
    assert len(majors) == 2
    for fid in majors:
        assert re.search(
            rf'<label><input type="checkbox" name="acknowledge" value="{fid}">Acknowledge: ',
            live.get_data(as_text=True),
        )
    refused = through_api(make, doc, by_api, tramadol)
    assert refused.status_code == 409
    page = console.post(rx_path(by_console), form_of(tramadol))
    assert page.status_code == 409
    assert shown(page) == given(refused.get_json()["findings"])
    answered = {**tramadol, "acknowledge": majors}
    assert "Prescribed tramadol 50 mg" in prescribed(console, by_console, answered)
    assert through_api(make, doc, by_api, answered).status_code == 201

    assert regimen(make, doc, by_console) == regimen(make, doc, by_api)
    assert len(regimen(make, doc, by_api)) == 3
    writes = writes_since(database, by_api, setup)
    assert [w["subtype"] for w in writes].count("prescription.create") == 3
    assert "prescription.interaction-acknowledge" in [w["subtype"] for w in writes]
    assert writes_since(database, by_console, setup) == writes


ANSWERED = {
    "override": (
        [SERTRALINE],
        {**PHENELZINE, "override": {"reason": "Cross-taper with psychiatry"}},
    ),
    "unlisted": (
        [],
        {"drug": "Zorbaxin", "confirm_unlisted": True, "unlisted_reason": "Compounded locally"},
    ),
}


@pytest.mark.parametrize(("rx", "overrides"), ANSWERED.values(), ids=ANSWERED)
def test_an_override_or_an_unlisted_drug_is_stored_and_audited_as_through_the_api(
    signed_in: tuple[Console, Account],
    make: Builders,
    database: Database,
    rx: list[dict[str, Any]],
    overrides: dict[str, Any],
) -> None:
    console, doc = signed_in
    by_api, by_console = twins(make, doc, rx)
    setup = len(audited_writes(database, by_api.patient_id))
    body = prescription_body(**overrides)
    open_form(console, by_console)
    assert "Prescribed" in prescribed(console, by_console, body)
    assert through_api(make, doc, by_api, body).status_code == 201
    assert regimen(make, doc, by_console) == regimen(make, doc, by_api)
    writes = writes_since(database, by_api, setup)
    assert len(writes) >= 2
    assert writes_since(database, by_console, setup) == writes
