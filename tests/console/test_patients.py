"""The console's patient pages: search among the care team's patients, register one
(the activation code shown once, also as a QR code), edit a record; the same use
cases, refusals and audit entries as the JSON API."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from service.console.views import patients as patient_views
from service.db.uow import Database
from tests.conftest import PASSWORD, Account, Builders, FrozenClock
from tests.console.conftest import Console, audited_writes

_CODE = re.compile(r'<code class="secret">([^<]+)</code>')
_FIGURE = re.compile(r'<figure class="qr">\s*(<svg.*?</svg>)\s*<figcaption>', re.S)
_LOADED = re.compile(r'name="loaded" value="([^"]*)"')


def _registration(**overrides: str) -> dict[str, str]:
    return {
        "name": "Sam Same",
        "email": f"sam-{uuid.uuid4().hex[:6]}@example.org",
        "date_of_birth": "1979-06-02",
        "timezone": "Europe/London",
        "allergies": "penicillin\nSulfonamides",
        **overrides,
    }


def _patient_of(database: Database, email: str) -> uuid.UUID:
    with database.engine.connect() as conn:
        found = conn.execute(
            text(
                "SELECT patients.id FROM patients JOIN users ON users.id = patients.user_id "
                "WHERE users.email = :e"
            ),
            {"e": email},
        ).scalar_one()
    return found if isinstance(found, uuid.UUID) else uuid.UUID(str(found))


def _masked(writes: list[dict[str, Any]], *texts: str) -> list[dict[str, Any]]:
    """Audited writes with what must differ between two patients (their e-mail) masked."""
    dumped = json.dumps(writes, default=str)
    for t in texts:
        dumped = dumped.replace(t, "<text>")
    return json.loads(dumped)  # type: ignore[no-any-return]


def test_search_finds_only_the_care_teams_patients(
    signed_in: tuple[Console, Account], make: Builders
) -> None:
    console, doc = signed_in
    other = make.clinician()
    ada = make.patient(doc, name="Ada Lovelace")
    make.patient(doc, name="Grace Hopper")
    make.patient(other, name="Ada Byron")
    r = console.get("/console/patients")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert '<label for="f-q">Search patients</label>' in page
    assert 'hx-get="/console/patients"' in page
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert '<a href="/console/patients/new">Register a patient</a>' in page.replace(
        ' class="button"', ""
    )
    assert f'<a href="/console/patients/{ada.patient_id}">Ada Lovelace</a>' in page
    assert "Grace Hopper" in page
    assert "Ada Byron" not in page

    r = console.get("/console/patients?q=ada")
    assert "Ada Lovelace" in r.get_data(as_text=True)
    assert "Grace Hopper" not in r.get_data(as_text=True)
    assert "Ada Byron" not in r.get_data(as_text=True)

    live = console.htmx("GET", "/console/patients", {"q": "LOVE"})
    fragment = live.get_data(as_text=True)
    assert live.status_code == 200
    assert "<html" not in fragment
    assert "Ada Lovelace" in fragment
    assert "Ada Byron" not in fragment
    nothing = console.htmx("GET", "/console/patients", {"q": "Byron"}).get_data(as_text=True)
    assert "No patient matches “Byron”" in nothing


def test_the_list_is_paged(
    signed_in: tuple[Console, Account], make: Builders, monkeypatch: pytest.MonkeyPatch
) -> None:
    console, doc = signed_in
    monkeypatch.setattr(patient_views, "PAGE_SIZE", 2)
    for name in ("Ann A", "Ann B", "Ann C"):
        make.patient(doc, name=name)
    first = console.get("/console/patients?q=ann").get_data(as_text=True)
    assert "Ann A" in first
    assert "Ann B" in first
    assert "Ann C" not in first
    assert 'href="/console/patients?q=ann&amp;offset=2">Next page</a>' in first
    second = console.get("/console/patients?q=ann&offset=2").get_data(as_text=True)
    assert "Ann C" in second
    assert "Ann A" not in second
    bad = console.get("/console/patients?offset=-1")
    assert bad.status_code == 422
    assert "Must be greater than or equal to 0" in bad.get_data(as_text=True)


def test_registering_shows_the_code_and_its_qr_code_once(
    signed_in: tuple[Console, Account], make: Builders
) -> None:
    console, _ = signed_in
    form = console.get("/console/patients/new").get_data(as_text=True)
    for label in ("Name", "E-mail", "Date of birth", "Time zone"):
        assert f">{label}</label>" in form
    assert '<option value="Europe/London">' in form
    assert 'value="posixrules"' not in form
    r = console.post("/console/patients/new", _registration(name="Jo Patel"))
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert "<h1>Activation code</h1>" in page
    code = _CODE.search(page)
    assert code is not None
    svg = _FIGURE.search(page)
    assert svg is not None
    assert "style=" not in page
    assert "<style" not in page
    # The QR code is the code itself, as qr_svg draws it (tests/console/test_patient_qr.py).
    label = "QR code of the activation code for Jo Patel"
    assert svg.group(1) == str(patient_views.qr_svg(code.group(1), label=label))

    again = console.get("/console/patients/new").get_data(as_text=True)
    assert code.group(1) not in again
    assert code.group(1) not in console.get("/console/patients").get_data(as_text=True)

    # The code is what the app activates the account with; the patient then shows.
    activated = make.client.post(
        "/v1/auth/activate", json={"activation_code": code.group(1), "password": PASSWORD}
    )
    assert activated.status_code == 200, activated.json
    assert "Jo Patel" in console.get("/console/patients?q=patel").get_data(as_text=True)


def test_registration_leaves_the_same_audit_trail_as_the_api(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    through_console = _registration()
    through_api = _registration()
    r = make.client.post(
        "/v1/patients",
        json={**through_api, "allergies": ["penicillin", "Sulfonamides"]},
        headers=doc.headers,
    )
    assert r.status_code == 202, r.json
    console.get("/console/patients/new")
    assert console.post("/console/patients/new", through_console).status_code == 200
    api_writes = audited_writes(database, _patient_of(database, through_api["email"]))
    console_writes = audited_writes(database, _patient_of(database, through_console["email"]))
    assert [w["subtype"] for w in console_writes] == ["patient.create"]
    assert _masked(console_writes, through_console["email"]) == _masked(
        api_writes, through_api["email"]
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-address", "Not a valid email address."),
        ("timezone", "Mars/Olympus_Mons", "Unknown time zone; use an IANA name"),
        ("date_of_birth", "tomorrow", "Must be between 1900-01-01 and today."),
        ("date_of_birth", "", "Not a valid date."),
        ("name", "", "Length must be between 1 and 200."),
    ],
)
def test_bad_registration_input_is_refused_beside_its_field(
    signed_in: tuple[Console, Account],
    count_rows: Callable[[str], int],
    clock: FrozenClock,
    field: str,
    value: str,
    message: str,
) -> None:
    console, _ = signed_in
    if value == "tomorrow":
        value = (clock.now.date() + dt.timedelta(days=1)).isoformat()
    console.get("/console/patients/new")
    stored = ("patients", "enrolments", "audit_events")
    before = [count_rows(t) for t in stored]
    typed = _registration(**{field: value})
    r = console.post("/console/patients/new", typed)
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    error = re.search(rf'<p class="error" id="e-{field}">([^<]*)</p>', page)
    assert error is not None
    assert message in html.unescape(error.group(1))
    assert f'aria-describedby="e-{field}"' in page
    assert html.escape(typed["email"]) in page
    assert '<code class="secret">' not in page
    assert [count_rows(t) for t in stored] == before


def _edit_form(console: Console, patient_id: uuid.UUID) -> dict[str, str]:
    page = console.get(f"/console/patients/{patient_id}/edit").get_data(as_text=True)
    loaded = _LOADED.search(page)
    assert loaded is not None
    record = json.loads(html.unescape(loaded.group(1)))
    return {
        "loaded": html.unescape(loaded.group(1)),
        "name": record["name"],
        "date_of_birth": record["date_of_birth"],
        "timezone": record["timezone"],
        "allergies": "\n".join(record["allergies"]),
        **({"pregnant": "true"} if record["pregnant"] else {}),
    }


def test_editing_the_record_stores_it_as_the_api_does(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    by_api = make.patient(doc, name="Sam Same")
    by_console = make.patient(doc, name="Sam Same")
    for pat in (by_api, by_console):
        make.prescription(doc, pat)
    change = {"allergies": ["penicillin", "sulfonamides"], "pregnant": True}
    r = make.client.patch(
        f"/v1/patients/{by_api.patient_id}",
        json={**change, "timezone": "Europe/London"},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.json
    assert by_console.patient_id is not None
    form = _edit_form(console, by_console.patient_id)
    form.update(timezone="Europe/London", allergies="penicillin\nsulfonamides", pregnant="true")
    r = console.post(f"/console/patients/{by_console.patient_id}/edit", form)
    assert r.status_code == 302
    assert r.headers["Location"] == f"/console/patients/{by_console.patient_id}"
    stored = make.client.get(f"/v1/patients/{by_console.patient_id}", headers=doc.headers).json
    assert stored is not None
    assert stored["allergies"] == ["penicillin", "sulfonamides"]
    assert stored["pregnant"] is True
    assert stored["timezone"] == "Europe/London"
    assert _masked(audited_writes(database, by_console.patient_id), by_console.email) == (
        _masked(audited_writes(database, by_api.patient_id), by_api.email)
    )


def test_the_edit_sends_only_what_the_form_changed(
    signed_in: tuple[Console, Account], make: Builders
) -> None:
    console, doc = signed_in
    pat = make.patient(doc)
    assert pat.patient_id is not None
    form = _edit_form(console, pat.patient_id)
    # Someone else records an allergy while this form is open.
    url = f"/v1/patients/{pat.patient_id}"
    r = make.client.patch(url, json={"allergies": ["latex"]}, headers=doc.headers)
    assert r.status_code == 200
    form.update(timezone="Asia/Tokyo")
    assert console.post(f"/console/patients/{pat.patient_id}/edit", form).status_code == 302
    stored = make.client.get(url, headers=doc.headers).json
    assert stored is not None
    assert (stored["timezone"], stored["allergies"]) == ("Asia/Tokyo", ["latex"])


def test_a_bad_edit_is_refused_beside_its_field_and_changes_nothing(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    pat = make.patient(doc)
    assert pat.patient_id is not None
    before = audited_writes(database, pat.patient_id)
    form = _edit_form(console, pat.patient_id)
    form.update(timezone="Nowhere/Special", allergies="penicillin", pregnant="true")
    r = console.post(f"/console/patients/{pat.patient_id}/edit", form)
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert '<p class="error" id="e-timezone">Unknown time zone' in page
    assert 'value="Nowhere/Special"' in page
    assert ">penicillin</textarea>" in page
    stored = make.client.get(f"/v1/patients/{pat.patient_id}", headers=doc.headers).json
    assert stored is not None
    assert (stored["timezone"], stored["allergies"], stored["pregnant"]) == (
        "America/New_York",
        [],
        False,
    )
    assert audited_writes(database, pat.patient_id) == before


def test_another_teams_patient_is_not_found_and_the_attempt_audited(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, _ = signed_in
    theirs = make.patient(make.clinician())
    assert theirs.patient_id is not None
    url = f"/console/patients/{theirs.patient_id}/edit"
    assert console.get(url).status_code == 404
    form = {"name": "Taken Over", "date_of_birth": "1975-04-12", "timezone": "Asia/Tokyo"}
    r = console.post(url, {**form, "loaded": "{}"})
    assert r.status_code == 404
    refusals = [w for w in audited_writes(database, theirs.patient_id) if str(w["outcome"]) != "0"]
    assert [(w["subtype"], w["outcome_desc"]) for w in refusals] == [
        ("access.denied", "404 GET /console/patients/<id>/edit"),
        ("access.denied", "404 POST /console/patients/<id>/edit"),
    ]
    assert "Taken Over" not in console.get("/console/patients?q=taken").get_data(as_text=True)
