"""What a prescription must fit besides interactions (docs/clinical.md, "Checks beyond
interactions"): the label's dose range, the drug's routes and units, the Beers list
for older adults, the strength its name states, safe characters, and the screening
of a drug the catalog does not list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.conftest import Account, Builders, prescription_body

Count = Callable[[str], int]


def prescribe(make: Builders, doc: Account, pat: Account, **body: Any) -> TestResponse:
    return make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions",
        json=prescription_body(**body),
        headers=doc.headers,
    )


def daily(times: list[str]) -> dict[str, Any]:
    return {
        "times": times,
        "every_n_days": 1,
        "days_of_week": None,
        "as_needed": False,
        "max_doses_per_day": None,
        "min_hours_between": None,
        "amounts": None,
    }


def kinds(findings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["kind"], f["severity"]) for f in findings]


# --- dose range ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "amount", "unit", "times", "severity"),
    [
        ("escitalopram", 200, "mg", ["08:00"], "contraindicated"),  # 10x the 20 mg maximum
        ("escitalopram", 30, "mg", ["08:00"], "major"),  # above 20, not above 40
        ("diazepam", 5, "g", ["08:00"], "contraindicated"),  # 5,000 mg a day
        ("diazepam", 25, "mg", ["08:00", "14:00", "20:00", "23:00"], "contraindicated"),
        ("diazepam", 15, "mg", ["08:00", "20:00"], "major"),  # 30 mg a day, but 15 mg at once
    ],
    ids=["escitalopram-200mg", "escitalopram-30mg", "diazepam-5g", "diazepam-40x", "single"],
)
def test_a_dose_above_the_label_maximum_needs_an_answer(
    make: Builders,
    count_rows: Count,
    drug: str,
    amount: float,
    unit: str,
    times: list[str],
    severity: str,
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    body = {"drug": drug, "dose": {"amount": amount, "unit": unit}, "schedule": daily(times)}
    r = prescribe(make, doc, pat, **body)
    assert r.status_code == 409, r.get_json()
    found = [f for f in r.get_json()["findings"] if f["kind"] == "dose-range"]
    assert found, r.get_json()
    assert found[0]["severity"] == severity
    assert "label" in found[0]["mechanism"]
    assert found[0]["sources"][0]["id"] == "fda-label"
    assert count_rows("prescriptions") == 0
    if severity == "major":
        ids = [f["id"] for f in found]
        ok = prescribe(make, doc, pat, **body, acknowledge=ids)
    else:
        ok = prescribe(make, doc, pat, **body, override={"reason": "specialist advice"})
    assert ok.status_code == 201, ok.get_json()
    assert "dose-range" in [f["kind"] for f in ok.get_json()["findings"]]


def test_the_usual_dose_raises_no_dose_finding(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, drug="escitalopram", dose={"amount": 20, "unit": "mg"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["findings"] == []


def test_a_revised_dose_is_checked_too(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    rx = make.prescription(doc, pat, drug="escitalopram", dose={"amount": 10, "unit": "mg"})
    url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"
    r = make.client.patch(url, json={"dose": {"amount": 30, "unit": "mg"}}, headers=doc.headers)
    assert r.status_code == 409, r.get_json()
    (finding,) = r.get_json()["findings"]
    assert (finding["kind"], finding["severity"]) == ("dose-range", "major")
    r = make.client.patch(
        url,
        json={"dose": {"amount": 30, "unit": "mg"}, "acknowledge": [finding["id"]]},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    stored = [f for f in r.get_json()["findings"] if f["kind"] == "dose-range"]
    assert stored[0]["resolution"] == "acknowledged"


# --- route and unit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "named"),
    [
        ({"drug": "warfarin", "route": "topical"}, "route", "oral"),
        ({"drug": "escitalopram", "dose": {"amount": 1, "unit": "puff"}}, "dose.unit", "mg"),
        ({"drug": "diazepam", "dose": {"amount": 5, "unit": "units"}}, "dose.unit", "tablet"),
    ],
    ids=["warfarin-topical", "escitalopram-puff", "diazepam-units"],
)
def test_a_route_or_unit_the_drug_does_not_come_in_is_422(
    make: Builders, count_rows: Count, body: dict[str, Any], field: str, named: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, **body)
    assert r.status_code == 422, r.get_json()
    message = " ".join(r.get_json()["errors"][field])
    assert named in message
    assert count_rows("prescriptions") == 0


# --- the strength the name states -------------------------------------------------------


def test_a_strength_in_the_name_must_be_the_dose(make: Builders, count_rows: Count) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, drug="lexapro 10mg tab", dose={"amount": 5, "unit": "mg"})
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert "10 mg" in errors["drug"][0]
    assert "5 mg" in errors["drug"][0]
    assert "dose.amount" in errors
    assert count_rows("prescriptions") == 0
    ok = prescribe(make, doc, pat, drug="lexapro 10mg tab", dose={"amount": 10, "unit": "mg"})
    assert ok.status_code == 201, ok.get_json()
    rx = ok.get_json()
    assert (rx["drug"], rx["drug_name"], rx["drug_id"]) == (
        "lexapro 10mg tab",
        "escitalopram",
        "escitalopram",
    )


# --- older adults ------------------------------------------------------------------------


def test_beers_drugs_to_avoid_give_a_moderate_finding_from_65(make: Builders) -> None:
    doc = make.clinician()
    older = make.patient(doc, date_of_birth="1950-01-01")
    younger = make.patient(doc, date_of_birth="1990-01-01")
    r = prescribe(make, doc, older, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    assert r.status_code == 201, r.get_json()
    (age,) = [f for f in r.get_json()["findings"] if f["kind"] == "drug-age"]
    assert age["severity"] == "moderate"
    assert age["sources"][0]["id"] == "ags-beers-2023"
    assert age["effect"]
    r = prescribe(make, doc, younger, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    assert r.status_code == 201, r.get_json()
    assert "drug-age" not in [f["kind"] for f in r.get_json()["findings"]]


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["diaz\u200bepam", "\u202emapezaid", "di\u0430zepam", "diazepam\u2066"],
    ids=["zero-width", "right-to-left-override", "cyrillic-a", "isolate"],
)
def test_names_that_can_pass_for_another_are_refused(
    make: Builders, count_rows: Count, name: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    for extra in ({}, {"confirm_unlisted": True, "unlisted_reason": "compounded"}):
        r = prescribe(make, doc, pat, drug=name, **extra)
        assert r.status_code == 422, r.get_json()
        assert "drug" in r.get_json()["errors"]
    r = make.client.post("/v1/interactions/check", json={"drugs": [name]}, headers=doc.headers)
    assert r.status_code == 422
    assert "drugs.0" in r.get_json()["errors"]
    assert count_rows("prescriptions") == 0


# --- unlisted drugs are still screened ----------------------------------------------------


def test_an_unlisted_drug_is_screened_as_far_as_its_name_allows(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc, allergies=["Zorbaxin"])
    make.prescription(doc, pat, drug="alprazolam", dose={"amount": 0.5, "unit": "mg"})
    unlisted = {"confirm_unlisted": True, "unlisted_reason": "imported product"}
    # "diazepan" reveals nothing: every check that could not run is named, and the
    # name it resembles is offered.
    r = prescribe(make, doc, pat, drug="diazepan", **unlisted)
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert rx["screening"] == "partial"
    (partial,) = [f for f in rx["findings"] if f["kind"] == "partial-screening"]
    assert "drug-drug interactions" in partial["mechanism"]
    assert "diazepam" in partial["management"]
    # The allergy list's text and a name already taken are checked (major: acknowledge).
    r = prescribe(make, doc, pat, drug="Zorbaxin retard", **unlisted)
    assert r.status_code == 409, r.get_json()
    assert ("drug-allergy", "major") in kinds(r.get_json()["findings"])
    r = prescribe(make, doc, pat, drug="diazepan", **unlisted)
    assert r.status_code == 409, r.get_json()
    assert ("duplicate-therapy", "major") in kinds(r.get_json()["findings"])
    # A word that names a catalog ingredient is checked in full: here an opioid with
    # the benzodiazepine already taken.
    r = prescribe(make, doc, pat, drug="oxycodone compounded lozenge", **unlisted)
    assert r.status_code == 409, r.get_json()
    assert ("drug-drug", "major") in kinds(r.get_json()["findings"])


@pytest.mark.parametrize(
    "name",
    ["escital\u0585pram", "\u13aalprazolam", "d\u0131azepam", "diazepam\u2800", "diazepam\u00a05"],
    ids=["armenian-o", "cherokee-a", "dotless-i", "braille-blank", "no-break-space"],
)
def test_lookalike_letters_from_any_script_are_refused(make: Builders, name: str) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    body = {"drug": name, "confirm_unlisted": True, "unlisted_reason": "x"}
    r = prescribe(make, doc, pat, **body)
    assert r.status_code == 422, r.get_json()
    assert "drug" in r.get_json()["errors"]


def test_a_whole_number_of_the_named_strength_agrees(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, drug="lexapro 10mg tab", dose={"amount": 20, "unit": "mg"})
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize(
    ("dose", "times", "severity"),
    [
        ({"amount": 10, "unit": "tablet"}, ["08:00", "12:00", "16:00", "20:00"], "major"),
        ({"amount": 20, "unit": "tablet"}, ["08:00", "20:00", "23:00"], "contraindicated"),
        ({"amount": 50, "unit": "mL"}, ["08:00"], "major"),
    ],
    ids=["40-tablets", "60-tablets", "50-mL"],
)
def test_a_dose_counted_in_tablets_or_mL_is_checked_at_its_least(
    make: Builders, dose: dict[str, Any], times: list[str], severity: str
) -> None:
    # Diazepam comes as 2, 5 and 10 mg tablets and a 1 mg/mL solution: 40 tablets a day
    # hold at least 80 mg (above the 40 mg maximum), 60 at least 120 mg (three times
    # it), 50 mL at least 50 mg.
    doc = make.clinician()
    pat = make.patient(doc)
    r = prescribe(make, doc, pat, drug="diazepam", dose=dose, schedule=daily(times))
    assert r.status_code == 409, r.get_json()
    (daily_finding,) = [
        f
        for f in r.get_json()["findings"]
        if f["kind"] == "dose-range" and f["condition"] != "single-dose"
    ]
    assert daily_finding["severity"] == severity, daily_finding
