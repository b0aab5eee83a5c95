"""The console's live safety check, drug search and prescribe form: the check runs
the screening prescribing runs and stores nothing; the search is the API's."""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

import pytest

from service.db.uow import Database
from service.domain.severity import Severity
from service.usecases.prescriptions import Requirement
from service.usecases.prescriptions.screen import requirement
from tests.conftest import Account, Builders, FrozenClock, prescription_body
from tests.console.conftest import Console, audited_writes
from tests.console.test_prescribe import (
    ESCITALOPRAM,
    PHENELZINE,
    TRAMADOL,
    Count,
    check,
    form_of,
    given,
    open_form,
    rx_path,
    shown,
    stored,
    through_api,
)


def checks_read(make: Builders, doc: Account, pat: Account) -> int:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/audit?limit=200", headers=doc.headers)
    return [e["subtype"] for e in r.get_json()].count("interaction.check")


def test_the_live_check_shows_findings_and_stores_nothing(
    signed_in: tuple[Console, Account], make: Builders, database: Database, count_rows: Count
) -> None:
    console, doc = signed_in
    pat = make.patient(doc)
    make.prescription(doc, pat, **ESCITALOPRAM)
    open_form(console, pat)
    before = stored(count_rows), audited_writes(database, pat.patient_id)

    live = check(console, pat, prescription_body(**TRAMADOL))
    refused = through_api(make, doc, pat, prescription_body(**TRAMADOL)).get_json()
    assert shown(live) == given(refused["findings"])
    assert live.get_data(as_text=True).count("Needs an answer.") == len(refused["findings"])

    # A ticked acknowledgement stays ticked and answers its finding.
    first = shown(live)[0][0]
    ticked = check(console, pat, prescription_body(**TRAMADOL, acknowledge=[first])).get_data(
        as_text=True
    )
    assert f'value="{first}" checked>' in ticked
    assert ticked.count("Needs an answer.") == len(refused["findings"]) - 1

    contraindicated = check(console, pat, prescription_body(**PHENELZINE)).get_data(as_text=True)
    assert 'class="badge sev-contraindicated">contraindicated</span>' in contraindicated
    assert '<label for="f-override_reason">Override reason</label>' in contraindicated

    unknown = check(console, pat, prescription_body(drug="escitalopran")).get_data(as_text=True)
    assert "<strong>escitalopram</strong>" in unknown
    assert 'name="confirm_unlisted"' in unknown

    incomplete = form_of(prescription_body(**TRAMADOL)) | {"dose.amount": ""}
    r = console.htmx("POST", rx_path(pat, "/check"), incomplete)
    assert r.status_code == 200
    assert "<strong>Dose</strong>: Missing data for required field." in r.get_data(as_text=True)

    # Without JavaScript the check button posts the form and gets the whole page back.
    page = console.post(rx_path(pat, "/check"), form_of(prescription_body(**TRAMADOL)))
    assert page.status_code == 200
    assert "<h1>Prescribe for" in page.get_data(as_text=True)
    assert shown(page) == shown(live)

    assert (stored(count_rows), audited_writes(database, pat.patient_id)) == before
    # Each screen that ran read the patient's record, and is audited as the API's check is.
    assert checks_read(make, doc, pat) == 4


def test_the_form_starts_on_the_patients_today_and_keeps_what_was_typed(
    signed_in: tuple[Console, Account], make: Builders, clock: FrozenClock
) -> None:
    console, doc = signed_in
    pat = make.patient(doc, timezone="Pacific/Kiritimati")
    page = open_form(console, pat)
    today = clock().astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    assert f'name="start_date" type="date" value="{today.isoformat()}"' in page
    for label in ("Drug", "Dose", "Unit", "Route", "Times of day", "Start date", "As needed"):
        assert f">{label}</label>" in page
    assert '<button type="submit">Prescribe</button>' in page

    typed = form_of(prescription_body()) | {"dose.amount": "ten"}
    r = console.post(rx_path(pat), typed)
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert 'name="dose.amount" type="text" value="ten"' in body
    assert 'aria-invalid="true" aria-describedby="e-dose-amount"' in body
    assert '<p class="error" id="e-dose-amount">Not a valid number.</p>' in body
    assert f'name="start_date" type="date" value="{typed["start_date"]}"' in body


@pytest.mark.parametrize("typed", ["escitalopran", "lexapro", "Escitalo"])
def test_drug_search_suggests_as_you_type(signed_in: tuple[Console, Account], typed: str) -> None:
    console, _ = signed_in
    r = console.htmx("GET", "/console/drugs", {"q": typed})
    assert r.status_code == 200
    assert '<option value="escitalopram">' in r.get_data(as_text=True)
    # The form's drug field sends its own name.
    r = console.htmx("GET", "/console/drugs", {"drug": typed})
    assert '<option value="escitalopram">' in r.get_data(as_text=True)
    page = console.get("/console/drugs", query_string={"q": typed})
    assert "<strong>escitalopram</strong>" in page.get_data(as_text=True)


def test_another_teams_patient_is_not_found(
    signed_in: tuple[Console, Account], make: Builders, count_rows: Count
) -> None:
    console, console_doc = signed_in
    other = make.patient(make.clinician())
    before = stored(count_rows)
    open_form(console, make.patient(console_doc))
    form = form_of(prescription_body())
    assert console.get(rx_path(other)).status_code == 404
    assert console.post(rx_path(other), form).status_code == 404
    assert console.htmx("POST", rx_path(other, "/check"), form).status_code == 404
    unknown = Account(id=uuid.uuid4(), email="", password="", headers={}, patient_id=uuid.uuid4())
    assert console.get(rx_path(unknown)).status_code == 404
    assert stored(count_rows) == before


def test_what_each_severity_requires_is_read_off_the_screening_rule() -> None:
    assert [requirement(s) for s in Severity] == [
        Requirement.OVERRIDE,
        Requirement.ACKNOWLEDGE,
        Requirement.NONE,
        Requirement.NONE,
    ]
