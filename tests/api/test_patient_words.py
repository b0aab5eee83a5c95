"""Patients read findings in their own words and language, never the clinician's text
or reasons (docs/clinical.md, "What patients are told"); dose rows carry the
prescription's instructions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from service.knowledge import load
from tests.api.test_taper_plans import act as taper_act
from tests.api.test_taper_plans import create as taper_create
from tests.api.test_taper_plans import setup as taper_setup
from tests.conftest import Account, Builders, FrozenClock, prescription_body, settings_for

OVERRIDE = "Override: pain clinic agreed, naloxone given"
ACKNOWLEDGE = "Acknowledged: herb stops next week"
CHANGE = "Change note: dose review with the pain team"
RULE = next(r for r in load().pair_rules if r.id == "opioid-benzodiazepine")
CLINICAL = (RULE.effect, RULE.management, RULE.mechanism)
HIDDEN_KEYS = {"mechanism", "effect", "management", "rule", "rules", "classes", "resolution"}


@pytest.fixture
def settings(database_url: str) -> Any:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def findings_in(value: Any) -> Iterator[dict[str, Any]]:
    """Every finding object anywhere in a JSON value."""
    if isinstance(value, dict):
        if "severity" in value and "drugs" in value:
            yield value
        for v in value.values():
            yield from findings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from findings_in(v)


def set_locale(make: Builders, pat: Account, locale: str) -> None:
    """The patient chooses their language on their own record."""
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"locale": locale}, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()


def base(pat: Account) -> str:
    return f"/v1/patients/{pat.patient_id}"


def setup(make: Builders, clock: FrozenClock) -> tuple[Account, Account, dict[str, Any]]:
    """A patient on diazepam given oxycodone over a major finding (overridden with a
    reason), with a reported herb whose finding a clinician acknowledged."""
    clock.now = dt.datetime(2026, 6, 10, 11, 0, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc)
    make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 5, "unit": "mg"},
        start_date="2026-06-10",
        instructions="with food",
    )
    r = make.client.post(
        f"{base(pat)}/prescriptions",
        json=prescription_body(
            drug="oxycodone",
            dose={"amount": 5, "unit": "mg"},
            start_date="2026-06-10",
            override={"reason": OVERRIDE},
        ),
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    oxy = r.get_json()
    r = make.client.patch(
        f"{base(pat)}/prescriptions/{oxy['id']}",
        json={"instructions": "at night", "reason": CHANGE},
        headers={**doc.headers, "If-Match": f'"{oxy["version"]}"'},
    )
    assert r.status_code == 200, r.get_json()
    make.prescription(doc, pat, drug="escitalopram", start_date="2026-06-10")
    r = make.client.post(
        f"{base(pat)}/reported-products", json={"name": "St John's wort"}, headers=pat.headers
    )
    assert r.status_code == 201, r.get_json()
    r = make.client.get(f"{base(pat)}/findings", headers=doc.headers)
    herb = next(f for f in r.get_json() if "St John" in str(f["finding"]["drugs"]))
    r = make.client.post(
        f"{base(pat)}/findings/{herb['id']}/acknowledge",
        json={"reason": ACKNOWLEDGE},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    return doc, pat, oxy


def doors(make: Builders, pat: Account, oxy: dict[str, Any], who: Account) -> dict[str, Any]:
    """Every response in which the patient's findings reach a reader."""
    b = base(pat)
    got = {
        "list": make.client.get(f"{b}/prescriptions", headers=who.headers),
        "one": make.client.get(f"{b}/prescriptions/{oxy['id']}", headers=who.headers),
        "versions": make.client.get(f"{b}/prescriptions/{oxy['id']}/versions", headers=who.headers),
        "findings": make.client.get(f"{b}/findings", headers=who.headers),
        "check": make.client.post(
            "/v1/interactions/check",
            json={"drugs": ["tramadol"], "patient_id": str(pat.patient_id)},
            headers=who.headers,
        ),
        "product": make.client.post(
            f"{b}/reported-products", json={"name": "alcohol"}, headers=who.headers
        ),
    }
    for name, r in got.items():
        assert r.status_code in (200, 201), (name, r.get_json())
    return {name: r.get_json() for name, r in got.items()}


def test_a_patient_never_sees_reasons_or_clinical_text(make: Builders, clock: FrozenClock) -> None:
    _doc, pat, oxy = setup(make, clock)
    for name, body in doors(make, pat, oxy, pat).items():
        found = list(findings_in(body))
        assert found, name
        for f in found:
            assert not HIDDEN_KEYS & set(f), (name, f)
            summary = f["patient_summary"]
            assert summary["means"]
            assert summary["when_to_call"]
            assert summary["sources"]
        every = list(strings(body))
        for secret in (OVERRIDE, ACKNOWLEDGE, CHANGE, *CLINICAL):
            assert not any(secret in s for s in every), (name, secret)
    # The opioid with the benzodiazepine: the breathing summary, in English.
    one = doors(make, pat, oxy, pat)["one"]
    (pair,) = [f for f in one["findings"] if f["kind"] == "drug-drug"]
    assert pair["patient_summary"]["topic"] == "breathing"
    assert pair["patient_summary"]["locale"] == "en"
    assert "911" in pair["patient_summary"]["when_to_call"]


def test_the_care_team_still_sees_everything(make: Builders, clock: FrozenClock) -> None:
    doc, pat, oxy = setup(make, clock)
    seen = doors(make, pat, oxy, doc)
    every = " ".join(strings(seen))
    for secret in (OVERRIDE, ACKNOWLEDGE, CHANGE, RULE.effect):
        assert secret in every, secret
    (pair,) = [f for f in seen["one"]["findings"] if f["kind"] == "drug-drug"]
    assert pair["reason"] == OVERRIDE
    assert pair["effect"] == RULE.effect
    assert pair["patient_summary"]["topic"] == "breathing"


def test_the_patients_locale_chooses_the_summarys_language(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, oxy = setup(make, clock)
    set_locale(make, pat, "es")
    for who in (pat, doc):
        body = make.client.get(
            f"{base(pat)}/prescriptions/{oxy['id']}", headers=who.headers
        ).get_json()
        (pair,) = [f for f in body["findings"] if f["kind"] == "drug-drug"]
        assert pair["patient_summary"]["locale"] == "es"
        assert pair["patient_summary"]["when_to_call"].startswith("Llame al 911 de inmediato")
    # Every door gives the patient their language.
    for name, body in doors(make, pat, oxy, pat).items():
        assert {f["patient_summary"]["locale"] for f in findings_in(body)} == {"es"}, name


def test_dose_rows_carry_the_prescriptions_instructions(make: Builders, clock: FrozenClock) -> None:
    _doc, pat, _oxy = setup(make, clock)
    r = make.client.get("/v1/me/doses/today", headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    by_drug = {d["drug"]: d["instructions"] for d in r.get_json()["doses"]}
    # The revised oxycodone shows its current instructions, not those it was written with.
    assert by_drug == {
        "diazepam": "with food",
        "oxycodone": "at night",
        "escitalopram": "with food",
    }
    r = make.client.get(
        f"{base(pat)}/doses",
        headers=pat.headers,
        query_string={"from": "2026-06-10T00:00:00Z", "to": "2026-06-12T00:00:00Z"},
    )
    listed = r.get_json()
    assert {d["drug"]: d["instructions"] for d in listed}["oxycodone"] == "at night"
    dose = next(d for d in listed if d["drug"] == "diazepam")
    r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instructions"] == "with food"


def test_a_patient_reads_a_taper_plan_without_the_clinicians_reasons(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = taper_setup(make, clock)
    r = taper_create(make, doc, pat, rx)
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    reason = "Extended: the patient's exams are that week"
    assert taper_act(make, doc, plan, "extend", days=3, reason=reason).status_code == 200
    reads = {
        "plan": f"/v1/taper-plans/{plan['id']}",
        "mine": "/v1/me/taper-plans",
        "patient's": f"{base(pat)}/taper-plans",
    }
    for name, url in reads.items():
        r = make.client.get(url, headers=pat.headers)
        assert r.status_code == 200, (name, r.get_json())
        assert not any(reason in s for s in strings(r.get_json())), name
    r = make.client.get(reads["plan"], headers=doc.headers)
    assert [v["reason"] for v in r.get_json()["versions"]][-1] == reason
