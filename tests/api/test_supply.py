"""Supply over HTTP: dispenses and counts, drawn down by the doses taken (half tablets
too), every entry audited and never changed, bad input refused naming its field, and
who may record (docs/clinical.md, "Supply and refills")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from werkzeug.test import TestResponse

from schedules.app import Jobs
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.log import LogNotifier
from service.usecases.reminders import ReminderPolicy
from tests.api.test_taper_running import kb  # noqa: F401
from tests.conftest import Account, Builders, FrozenClock, settings_for

Count = Callable[[str], int]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the weeks these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


def rx_url(pat: Account, rx: dict[str, Any]) -> str:
    return f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"


def dispense(
    make: Builders, who: Account, pat: Account, rx: dict[str, Any], **body: Any
) -> TestResponse:
    return make.client.post(f"{rx_url(pat, rx)}/supplies", json=body, headers=who.headers)


def count(
    make: Builders, who: Account, pat: Account, rx: dict[str, Any], **body: Any
) -> TestResponse:
    return make.client.post(f"{rx_url(pat, rx)}/supplies/count", json=body, headers=who.headers)


def forecast(make: Builders, who: Account, pat: Account, rx: dict[str, Any]) -> dict[str, Any]:
    r = make.client.get(f"{rx_url(pat, rx)}/supply", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def of(body: dict[str, Any], label: str) -> dict[str, Any]:
    """The forecast of one formulation."""
    found: list[dict[str, Any]] = [f for f in body["formulations"] if f["formulation"] == label]
    assert len(found) == 1, body
    return found[0]


def jobs_for(database: Database, kb: KnowledgeBase, clock: FrozenClock) -> Jobs:  # noqa: F811
    return Jobs(
        database=database, kb=kb, notifier=LogNotifier(), policy=ReminderPolicy(), clock=clock
    )


def take_due(make: Builders, pat: Account, rx: dict[str, Any], day: str) -> int:
    """Log as taken every open dose of `rx` planned on local `day` (at 08:30 in London,
    before an 08:00 dose counts as missed); how many."""
    doses = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses?from={day}&to={day}", headers=pat.headers
    ).get_json()
    taken = 0
    for d in doses:
        if d["prescription_id"] == rx["id"] and d["status"] in ("pending", "reminded"):
            r = make.client.post(f"/v1/doses/{d['id']}/taken", json={}, headers=pat.headers)
            assert r.status_code == 200, r.get_json()
            taken += 1
    return taken


def once_daily(
    make: Builders, clock: FrozenClock, drug: str = "escitalopram", amount: float = 10
) -> tuple[Account, Account, dict[str, Any]]:
    """A patient in London on one dose a day at 08:00 since June 1st; now June 10th, 13:00."""
    clock.now = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug=drug,
        dose={"amount": amount, "unit": "mg"},
        schedule={"times": ["08:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    return doc, pat, rx


def supply_audit(database: Database) -> list[tuple[str, str, str]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT subtype, CAST(entity_id AS VARCHAR), CAST(patient_id AS VARCHAR) "
                "FROM audit_events WHERE subtype LIKE 'supply.%' ORDER BY id"
            )
        )
        return [(r[0], r[1].replace("-", ""), r[2].replace("-", "")) for r in rows]


def test_taken_doses_draw_down_a_dispense_and_a_count_resets_it(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    doc, pat, rx = once_daily(make, clock)
    jobs = jobs_for(database, kb, clock)
    jobs.materialise()
    r = dispense(
        make, pat, pat, rx, formulation="tablet 10 mg", quantity=30, dispensed_on="2026-06-10"
    )
    assert r.status_code == 201, r.get_json()
    entry = r.get_json()
    assert (entry["kind"], entry["unit"], entry["quantity"]) == ("dispensed", "tablet", 30)
    assert entry["recorded_by"] == str(pat.id)
    for day in ("2026-06-11", "2026-06-12", "2026-06-13"):
        clock.now = dt.datetime.fromisoformat(f"{day}T07:30:00+00:00")
        jobs.materialise()
        assert take_due(make, pat, rx, day) == 1
    got = of(forecast(make, pat, pat, rx), "tablet 10 mg")
    assert got["on_hand"] == 27
    assert got["daily_use"] == 1
    assert got["tracked"] is True
    # Today's dose is taken: 27 tablets cover June 14th to July 10th.
    assert (got["runs_out_on"], got["days_left"]) == ("2026-07-11", 28)
    assert got["plan_ends_on"] is None
    assert (got["runs_out_before_plan_ends"], got["shortfall"]) == (False, 0)

    r = count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=14)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["kind"], r.get_json()["dispensed_on"]) == ("counted", None)
    got = of(forecast(make, doc, pat, rx), "tablet 10 mg")
    assert (got["on_hand"], got["runs_out_on"]) == (14, "2026-06-28")
    clock.now = dt.datetime(2026, 6, 14, 7, 30, tzinfo=dt.UTC)
    jobs.materialise()
    assert take_due(make, pat, rx, "2026-06-14") == 1
    assert of(forecast(make, doc, pat, rx), "tablet 10 mg")["on_hand"] == 13, "drawn after it"

    listed = make.client.get(f"{rx_url(pat, rx)}/supplies", headers=doc.headers)
    assert listed.status_code == 200, listed.get_json()
    assert [(e["kind"], e["quantity"]) for e in listed.get_json()] == [
        ("dispensed", 30),
        ("counted", 14),
    ]


def test_a_half_tablet_dose_draws_half_a_tablet(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    """2.5 mg from diazepam's scored 5 mg tablets: half a tablet; the other half stays."""
    _, pat, rx = once_daily(make, clock, drug="diazepam", amount=2.5)
    jobs = jobs_for(database, kb, clock)
    jobs.materialise()
    assert dispense(make, pat, pat, rx, formulation="tablet 5 mg", quantity=10).status_code == 201
    clock.now = dt.datetime(2026, 6, 11, 7, 30, tzinfo=dt.UTC)
    assert take_due(make, pat, rx, "2026-06-11") == 1
    got = of(forecast(make, pat, pat, rx), "tablet 5 mg")
    assert Decimal(str(got["on_hand"])) == Decimal("9.5")
    assert Decimal(str(got["daily_use"])) == Decimal("0.5")
    # Today's is taken; 9.5 tablets are 19 days of half a tablet: June 12th to 30th.
    assert got["runs_out_on"] == "2026-07-01"


def test_every_entry_and_every_read_is_audited(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = once_daily(make, clock)
    assert dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=28).status_code == 201
    assert count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=20).status_code == 201
    forecast(make, pat, pat, rx)
    assert make.client.get(f"{rx_url(pat, rx)}/supplies", headers=doc.headers).status_code == 200
    ids = (rx["id"].replace("-", ""), str(pat.patient_id).replace("-", ""))
    assert supply_audit(database) == [
        (subtype, *ids)
        for subtype in ("supply.dispensed", "supply.counted", "supply.forecast", "supply.read")
    ]


def test_entries_are_never_updated_or_deleted(
    make: Builders, clock: FrozenClock, database: Database, count_rows: Count
) -> None:
    doc, pat, rx = once_daily(make, clock)
    r = dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=28)
    assert r.status_code == 201, r.get_json()
    url = f"{rx_url(pat, rx)}/supplies"
    for method in ("PUT", "PATCH", "DELETE"):
        assert make.client.open(url, method=method, headers=doc.headers).status_code == 405
        r2 = make.client.open(f"{url}/{r.get_json()['id']}", method=method, headers=doc.headers)
        assert r2.status_code in (404, 405), r2.status_code
    for statement in ("UPDATE supply_entries SET quantity = 1", "DELETE FROM supply_entries"):
        with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as conn:
            conn.execute(text(statement))
    assert count_rows("supply_entries") == 1
    got = make.client.get(url, headers=doc.headers).get_json()
    assert [e["quantity"] for e in got] == [28]


FUTURE = "2026-06-11"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("supplies", {"formulation": "tablet 7 mg", "quantity": 10}, "formulation"),
        ("supplies", {"quantity": 10}, "formulation"),
        ("supplies", {"formulation": "tablet 10 mg", "quantity": 0}, "quantity"),
        ("supplies", {"formulation": "tablet 10 mg", "quantity": 0.3}, "quantity"),
        ("supplies", {"formulation": "tablet 10 mg", "quantity": -1}, "quantity"),
        ("supplies", {"formulation": "tablet 10 mg", "quantity": "ten"}, "quantity"),
        ("supplies", {"formulation": "tablet 10 mg", "quantity": 10_001}, "quantity"),
        ("supplies", {"formulation": "oral-solution 1 mg/mL", "quantity": 5.125}, "quantity"),
        ("supplies", {"formulation": "tablet 10 mg", "quantity": 1, "lot": "A1"}, "lot"),
        (
            "supplies",
            {"formulation": "tablet 10 mg", "quantity": 10, "dispensed_on": FUTURE},
            "dispensed_on",
        ),
        ("supplies/count", {"formulation": "tablet 10 mg", "quantity": -0.25}, "quantity"),
        (
            "supplies/count",
            {"formulation": "tablet 10 mg", "quantity": 1, "dispensed_on": "2026-06-01"},
            "dispensed_on",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    count_rows: Count,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    _, pat, rx = once_daily(make, clock)
    audited = count_rows("audit_events")
    r = make.client.post(f"{rx_url(pat, rx)}/{path}", json=body, headers=pat.headers)
    assert r.status_code == 422, r.get_json()
    assert set(r.get_json()["errors"]) == {field}, r.get_json()
    assert count_rows("supply_entries") == 0
    assert count_rows("audit_events") == audited
    assert supply_audit(database) == []


def test_an_unknown_formulation_is_told_the_choices(make: Builders, clock: FrozenClock) -> None:
    _, pat, rx = once_daily(make, clock)
    r = dispense(make, pat, pat, rx, formulation="tablet 7 mg", quantity=10)
    (message,) = r.get_json()["errors"]["formulation"]
    for label in ("tablet 5 mg", "tablet 10 mg", "tablet 20 mg", "oral-solution 1 mg/mL"):
        assert label in message, message


def test_quarters_hundredths_of_a_ml_and_a_count_of_zero_are_accepted(
    make: Builders, clock: FrozenClock
) -> None:
    _, pat, rx = once_daily(make, clock)
    for label, quantity in (("tablet 10 mg", 10.25), ("oral-solution 1 mg/mL", 12.75)):
        r = dispense(make, pat, pat, rx, formulation=label, quantity=quantity)
        assert r.status_code == 201, r.get_json()
        assert Decimal(str(r.get_json()["quantity"])) == Decimal(str(quantity))
    r = count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=0)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["unit"] == "tablet"


def test_a_discontinued_prescription_takes_no_entry(
    make: Builders, clock: FrozenClock, count_rows: Count
) -> None:
    doc, pat, rx = once_daily(make, clock)
    stop = make.client.post(
        f"{rx_url(pat, rx)}/discontinue",
        json={"reason": "switching", "abrupt_stop_reason": "serotonin syndrome"},
        headers=doc.headers,
    )
    assert stop.status_code == 200, stop.get_json()
    assert dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=5).status_code == 409
    assert count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=5).status_code == 409
    assert count_rows("supply_entries") == 0


def test_the_patient_and_the_care_team_record_others_are_not_told_it_exists(
    make: Builders, clock: FrozenClock, count_rows: Count
) -> None:
    doc, pat, rx = once_daily(make, clock)
    r = dispense(make, doc, pat, rx, formulation="tablet 10 mg", quantity=30)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["recorded_by"] == str(doc.id)
    assert count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=29).status_code == 201
    other_doc = make.clinician()
    other_patient = make.patient(other_doc)
    for who in (other_doc, other_patient, make.admin()):
        assert dispense(make, who, pat, rx, formulation="tablet 10 mg", quantity=1).status_code == (
            404
        )
        assert count(make, who, pat, rx, formulation="tablet 10 mg", quantity=1).status_code == 404
        for tail in ("/supplies", "/supply"):
            got = make.client.get(f"{rx_url(pat, rx)}{tail}", headers=who.headers)
            assert got.status_code == 404, (tail, got.get_json())
    assert count_rows("supply_entries") == 2
