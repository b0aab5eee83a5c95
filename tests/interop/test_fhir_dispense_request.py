"""A MedicationRequest's `dispenseRequest` over HTTP: under an approved taper, the
plan's dates and days and the total of `/v1`'s dispensing table (one quantity for
one formulation, the per-formulation extension for several); without a taper, the
latest dispense and the days it lasts; nothing without supply. Every resource valid
under the R4 models of fhir.resources (R4B)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.medicationrequest import MedicationRequest

from service.config import Settings
from tests.api.test_taper_plans import act, approval, create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for

BASE = "/fhir/R4"
UCUM = "http://unitsofmeasure.org"
PER_FORMULATION = "https://medtrack.dev/fhir/StructureDefinition/dispense-per-formulation"
# Daily doses that the 5 mg tablet's halves make to 5 mg, then 1 mg a day (0.5 mg
# twice a day), which only the 1 mg/mL solution measures.
TO_LIQUID = {
    "kind": "manual",
    "steps": [
        {"daily_dose_mg": 20, "days": 14},
        {"daily_dose_mg": 10, "days": 14},
        {"daily_dose_mg": 5, "days": 14},
        {"daily_dose_mg": 1, "days": 14},
        {"daily_dose_mg": 0, "days": 7},
    ],
}
WITH_LIQUID = [
    {"kind": "tablet", "strength_mg": 5, "divisible_by": 2},
    {"kind": "liquid", "mg_per_ml": 1, "resolution_ml": 0.1},
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def fhir(make: Builders, who: Account, path: str) -> dict[str, Any]:
    r = make.client.get(BASE + path, headers=who.headers)
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def request_of(make: Builders, who: Account, rx: dict[str, Any]) -> dict[str, Any]:
    """The MedicationRequest, valid R4."""
    body = fhir(make, who, f"/MedicationRequest/{rx['id']}")
    MedicationRequest.model_validate(body)
    return body


def approved(
    make: Builders, doc: Account, pat: Account, rx: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    r = create(make, doc, pat, rx, **kw)
    assert r.status_code == 201, r.get_json()
    plan: dict[str, Any] = r.get_json()
    r = act(make, doc, plan, "approve", **approval(plan))
    assert r.status_code == 200, r.get_json()
    return plan


def dispensing_totals(make: Builders, who: Account, plan: dict[str, Any]) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/taper-plans/{plan['id']}/dispensing", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    totals: list[dict[str, Any]] = r.get_json()["totals"]
    return totals


def plan_days(plan: dict[str, Any]) -> int:
    first = dt.date.fromisoformat(plan["steps"][0]["start_date"])
    last = dt.date.fromisoformat(plan["steps"][-1]["end_date"])
    return (last - first).days + 1


def escitalopram(
    make: Builders, clock: FrozenClock, **schedule: Any
) -> tuple[Account, Account, Any]:
    clock.now = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="escitalopram",
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00"], "as_needed": False, **schedule},
        start_date="2026-06-01",
    )
    return doc, pat, rx


def dispense(make: Builders, who: Account, pat: Account, rx: dict[str, Any], **body: Any) -> None:
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/supplies",
        json=body,
        headers=who.headers,
    )
    assert r.status_code == 201, r.get_json()


def test_an_approved_taper_dispenses_the_total_of_its_table_over_its_days(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = approved(make, doc, pat, rx)
    (total,) = dispensing_totals(make, doc, plan)
    assert total["formulation"] == "tablet 5 mg"
    for who in (doc, pat):
        request = request_of(make, who, rx)["dispenseRequest"]
        assert request == {
            "validityPeriod": {
                "start": plan["steps"][0]["start_date"],
                "end": plan["steps"][-1]["end_date"],
            },
            "quantity": {
                "value": total["dispense"],
                "unit": "tablet",
                "system": UCUM,
                "code": "{tbl}",
            },
            "expectedSupplyDuration": {
                "value": plan_days(plan),
                "unit": "days",
                "system": UCUM,
                "code": "d",
            },
        }
    assert Decimal(str(total["dispense"])) >= Decimal(str(total["needed"])) > 0


def test_a_paused_taper_says_no_end_and_no_duration(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    plan = approved(make, doc, pat, rx)
    assert act(make, doc, plan, "pause", reason="a hard week").status_code == 200
    request = request_of(make, doc, rx)["dispenseRequest"]
    assert request["validityPeriod"] == {"start": plan["steps"][0]["start_date"]}
    assert "expectedSupplyDuration" not in request
    assert request["quantity"]["code"] == "{tbl}"


def test_a_plan_of_tablets_and_a_liquid_gives_each_total_and_no_single_quantity(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = approved(make, doc, pat, rx, algorithm=TO_LIQUID, formulations=WITH_LIQUID)
    totals = dispensing_totals(make, doc, plan)
    assert {t["unit"] for t in totals} == {"tablet", "mL"}, totals
    request = request_of(make, doc, rx)["dispenseRequest"]
    assert "quantity" not in request
    assert "numberOfRepeatsAllowed" not in request
    assert request["expectedSupplyDuration"]["value"] == plan_days(plan)
    codes = {"tablet": "{tbl}", "mL": "mL"}
    assert request["extension"] == [
        {
            "url": PER_FORMULATION,
            "extension": [
                {"url": "formulation", "valueString": t["formulation"]},
                {
                    "url": "quantity",
                    "valueQuantity": {
                        "value": t["dispense"],
                        "unit": t["unit"],
                        "system": UCUM,
                        "code": codes[t["unit"]],
                    },
                },
            ],
        }
        for t in totals
    ]


def test_a_dispense_without_a_taper_is_the_quantity_and_the_days_it_lasts(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = escitalopram(make, clock)
    assert "dispenseRequest" not in request_of(make, doc, rx), "no supply, no taper"
    dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=60, dispensed_on="2026-05-01")
    dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=30, dispensed_on="2026-06-09")
    expected = {
        "quantity": {"value": 30, "unit": "tablet", "system": UCUM, "code": "{tbl}"},
        "expectedSupplyDuration": {"value": 30, "unit": "days", "system": UCUM, "code": "d"},
    }
    assert request_of(make, pat, rx)["dispenseRequest"] == expected, "the latest dispense"

    search = fhir(make, doc, f"/MedicationRequest?patient={pat.patient_id}")
    Bundle.model_validate(search)
    assert [e["resource"]["dispenseRequest"] for e in search["entry"]] == [expected]

    history = fhir(make, doc, f"/MedicationRequest/{rx['id']}/_history")
    assert history["entry"][0]["resource"]["dispenseRequest"] == expected

    everything = fhir(make, doc, f"/Patient/{pat.patient_id}/$everything")
    Bundle.model_validate(everything)
    for entry in everything["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    (found,) = [
        e["resource"]
        for e in everything["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    assert found["dispenseRequest"] == expected

    trail = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers)
    assert "supply.read" in {e["subtype"] for e in trail.get_json()}, "the read is audited"


def test_the_days_follow_a_schedule_of_every_other_day(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = escitalopram(make, clock, every_n_days=2)
    dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=15, dispensed_on="2026-06-10")
    request = request_of(make, doc, rx)["dispenseRequest"]
    assert request["quantity"]["value"] == 15
    assert request["expectedSupplyDuration"]["value"] == 30, "a tablet every second day"


def test_an_as_needed_drug_not_yet_used_says_no_duration(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = escitalopram(
        make, clock, times=[], as_needed=True, max_doses_per_day=2, min_hours_between=8
    )
    dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=20, dispensed_on="2026-06-10")
    request = request_of(make, doc, rx)["dispenseRequest"]
    assert request == {"quantity": {"value": 20, "unit": "tablet", "system": UCUM, "code": "{tbl}"}}
