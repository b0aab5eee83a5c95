"""Supply at its edges: a dispense recorded after a count of the same day, refills
recorded as counts, a paused plan past its planned end, a discontinued prescription,
a dose the formulations cannot make, and a cancelled plan's dispensing table."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from tests.api.test_supply import (
    count,
    dispense,
    forecast,
    jobs_for,
    of,
    once_daily,
    rx_url,
    take_due,
)
from tests.api.test_taper_plans import act, create, setup
from tests.api.test_taper_running import at_london, kb, running  # noqa: F401
from tests.conftest import Builders, FrozenClock, settings_for


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the months these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=400 * 86400)


def refill_messages(database: Database) -> list[tuple[str, int]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, count(*) FROM notifications WHERE kind LIKE 'refill%' "
                "GROUP BY kind ORDER BY kind"
            )
        )
        return [(r[0], int(r[1])) for r in rows]


def test_a_dispense_recorded_after_a_count_of_the_same_day_adds_to_it(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    doc, pat, rx = once_daily(make, clock, drug="diazepam", amount=5)
    jobs = jobs_for(database, kb, clock)
    assert count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=3).status_code == 201
    clock.advance(hours=3)
    r = dispense(make, doc, pat, rx, formulation="tablet 5 mg", quantity=60)
    assert r.status_code == 201, r.get_json()
    got = of(forecast(make, pat, pat, rx), "tablet 5 mg")
    assert got["on_hand"] == 63
    assert got["refill_due"] is False
    jobs.refills()
    assert refill_messages(database) == []


def test_a_refill_recorded_as_a_count_opens_the_next_shortfall(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    _doc, pat, rx = once_daily(make, clock, drug="diazepam", amount=5)
    jobs = jobs_for(database, kb, clock)
    assert count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=3).status_code == 201
    jobs.refills()
    first = refill_messages(database)
    assert first == [("refill-due", 1), ("refill-due-care-team", 1)]
    clock.now = dt.datetime(2026, 6, 12, 12, tzinfo=dt.UTC)
    assert count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=60).status_code == 201
    jobs.refills()
    assert refill_messages(database) == first, "60 on hand: nothing due"
    clock.now = dt.datetime(2026, 8, 5, 12, tzinfo=dt.UTC)
    # Fewer than the estimate: the same supply, running short again.
    assert count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=3).status_code == 201
    jobs.refills()
    jobs.refills()
    assert refill_messages(database) == [("refill-due", 2), ("refill-due-care-team", 2)]


def test_a_paused_plan_past_its_planned_end_still_forecasts_the_held_dose(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    doc, pat, rx, plan, jobs = running(make, clock, database, kb)
    assert plan["steps"][-1]["end_date"] < "2026-12-05"
    clock.now = at_london("2026-06-20", "12:00")
    assert act(make, doc, plan, "pause", reason="life event").status_code == 200
    clock.now = at_london("2026-12-05", "00:05")
    jobs.materialise()
    assert count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=8).status_code == 201
    body = forecast(make, doc, pat, rx)
    got = of(body, "tablet 5 mg")
    assert body["taper_plan_status"] == "paused"
    assert got["daily_use"] > 0
    assert got["plan_ends_on"] is None
    assert got["runs_out_on"] is not None
    assert got["days_left"] < 10
    assert got["refill_due"] is True
    jobs.refills()
    assert ("refill-due", 1) in refill_messages(database)


def test_a_discontinued_prescription_uses_nothing_and_is_never_due(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    doc, pat, rx = once_daily(make, clock, drug="escitalopram", amount=10)
    assert dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=3).status_code == 201
    stop = make.client.post(
        f"{rx_url(pat, rx)}/discontinue",
        json={"reason": "switching", "abrupt_stop_reason": "serotonin syndrome"},
        headers=doc.headers,
    )
    assert stop.status_code == 200, stop.get_json()
    got = of(forecast(make, pat, pat, rx), "tablet 10 mg")
    assert got["runs_out_on"] is None
    assert got["refill_due"] is False


def test_a_dose_the_recorded_formulation_cannot_make_is_made_from_the_catalog_s(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    # 7.5 mg from 10 mg tablets (halves only) cannot be made; from the catalog's 5 mg
    # (and 2 mg) tablets it can, so the forecast reads the tablet 10 mg as unused and
    # says so rather than a run-out date nobody can tell.
    _doc, pat, rx = once_daily(make, clock, drug="diazepam", amount=7.5)
    assert dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=3).status_code == 201
    body = forecast(make, pat, pat, rx)
    assert body["use_unknown"] is False
    got = of(body, "tablet 10 mg")
    assert got["daily_use"] == 0
    assert got["refill_due"] is False


def test_a_dose_nothing_can_make_says_its_use_is_unknown(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    # "1 tablet" with two strengths recorded: which one is taken cannot be told.
    clock.now = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="escitalopram",
        dose={"amount": 1, "unit": "tablet"},
        schedule={"times": ["08:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    for label in ("tablet 10 mg", "tablet 20 mg"):
        assert dispense(make, pat, pat, rx, formulation=label, quantity=3).status_code == 201
    body = forecast(make, pat, pat, rx)
    assert body["use_unknown"] is True
    assert of(body, "tablet 10 mg")["runs_out_on"] is None


def test_a_cancelled_plan_dispenses_nothing_and_a_draft_s_csv_says_it_is_a_draft(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    r = make.client.get(f"/v1/taper-plans/{plan['id']}/dispensing.csv", headers=doc.headers)
    assert r.status_code == 200
    assert "-v1-draft.csv" in r.headers["Content-Disposition"]
    assert act(make, doc, plan, "cancel", reason="no").status_code == 200
    for suffix in ("dispensing", "dispensing.csv"):
        r = make.client.get(f"/v1/taper-plans/{plan['id']}/{suffix}", headers=doc.headers)
        assert r.status_code == 409, r.data


def test_a_count_of_minus_zero_is_zero(make: Builders, clock: FrozenClock) -> None:
    _doc, pat, rx = once_daily(make, clock)
    r = count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=-0.0)
    assert r.status_code == 201, r.get_json()
    assert str(r.get_json()["quantity"]) in ("0", "0.0")


def test_a_refill_recorded_as_a_count_survives_the_routine_count_after_it(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    # One 5 mg tablet a day, taken: 60 dispensed, reminded at 8 left; 30 more collected
    # and recorded as a count of 38; a routine count three days on is no refill, nor a
    # recount a tablet above the estimate, and the next shortfall (of the counted
    # supply) is told again.
    _doc, pat, rx = once_daily(make, clock, drug="diazepam", amount=5)
    jobs = jobs_for(database, kb, clock)
    start = dt.date(2026, 6, 10)
    assert dispense(make, pat, pat, rx, formulation="tablet 5 mg", quantity=60).status_code == 201

    def day(n: int) -> None:
        clock.now = at_london((start + dt.timedelta(days=n)).isoformat(), "08:30")
        jobs.materialise()
        take_due(make, pat, rx, (start + dt.timedelta(days=n)).isoformat())
        jobs.refills()

    for n in range(1, 53):
        day(n)
    assert refill_messages(database) == [("refill-due", 1), ("refill-due-care-team", 1)]
    estimate = of(forecast(make, pat, pat, rx), "tablet 5 mg")["on_hand"]
    assert (
        count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=estimate + 30).status_code
        == 201
    )
    for n in range(53, 56):
        day(n)
    assert (
        count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=estimate + 28).status_code
        == 201
    )
    # A recount a tablet above the estimate is no refill either.
    mine = of(forecast(make, pat, pat, rx), "tablet 5 mg")["on_hand"]
    assert (
        count(make, pat, pat, rx, formulation="tablet 5 mg", quantity=mine + 1).status_code == 201
    )
    for n in range(56, 86):
        day(n)
    assert refill_messages(database) == [("refill-due", 2), ("refill-due-care-team", 2)]
    with database.engine.connect() as conn:
        opened = conn.execute(
            text("SELECT kind, opens_supply FROM supply_entries ORDER BY recorded_at")
        ).all()
    assert [(k, bool(o)) for k, o in opened] == [
        ("dispensed", True),
        ("counted", True),
        ("counted", False),
        ("counted", False),
    ]
