"""The supply forecast over HTTP: it follows an approved taper's falling doses and
formulations rather than today's dose, lists a formulation the plan needs later that
nobody has recorded, forecasts an as-needed drug from its recent use and a plain
schedule by its dose days; dates are the patient's own; a taper's dispensing table
reads its period from the query (docs/clinical.md, "Supply and refills")."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from tests.api.test_supply import dispense, forecast, of, rx_url, settings  # noqa: F401
from tests.api.test_taper_running import at_london, kb, running  # noqa: F401
from tests.conftest import Account, Builders, FrozenClock

# Diazepam 20 mg a day to 0 in cuts of 25%, from scored 5 mg and 2 mg tablets.
TWO_STRENGTHS = [
    {"kind": "tablet", "strength_mg": 5, "divisible_by": 2},
    {"kind": "tablet", "strength_mg": 2, "divisible_by": 2},
]


def tablets_a_day(step: dict[str, Any], label: str) -> Decimal:
    """What one day of a plan step takes of one formulation, read from its components."""
    return sum(
        (
            Decimal(str(c["units"]))
            for a in step["administrations"]
            for c in a["components"]
            if c["formulation"] == label
        ),
        Decimal(0),
    )


def test_a_taper_s_lower_next_step_makes_supply_last_longer_than_today_s_dose_says(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    _, pat, rx, plan, jobs = running(make, clock, database, kb, formulations=TWO_STRENGTHS)
    steps = plan["steps"]
    # The hand computation below reads these steps: 4 tablets of 5 mg a day to June 28th,
    # then 3 a day (1.5 twice) to July 12th, then 1.5, 1, 1, 0.5, 0.5, 0.5 and none.
    assert [(s["start_date"], s["end_date"]) for s in steps[:2]] == [
        ("2026-06-15", "2026-06-28"),
        ("2026-06-29", "2026-07-12"),
    ]
    five = [tablets_a_day(s, "tablet 5 mg") for s in steps]
    assert five[:8] == [4, 3, Decimal("1.5"), 1, 1, Decimal("0.5"), Decimal("0.5"), Decimal("0.5")]
    assert set(five[8:]) == {0}
    assert all(s["days"] == 14 for s in steps[:8])
    assert steps[-1]["end_date"] == "2026-11-29"

    # June 25th, before the day's doses, four days before the lower step: 40 tablets are
    # 10 days at today's 4 a day.
    clock.now = at_london("2026-06-25", "00:05")
    jobs.materialise()
    r = dispense(
        make, pat, pat, rx, formulation="tablet 5 mg", quantity=40, dispensed_on="2026-06-25"
    )
    assert r.status_code == 201, r.get_json()
    body = forecast(make, pat, pat, rx)
    assert (body["basis"], body["taper_plan_status"], body["today"]) == (
        "taper",
        "active",
        "2026-06-25",
    )
    assert body["refill_threshold_days"] == 10, "diazepam is withdrawal-risk"
    got = of(body, "tablet 5 mg")
    assert (got["on_hand"], got["daily_use"], got["tracked"]) == (40, 4, True)
    today_s_dose_says = dt.date(2026, 6, 25) + dt.timedelta(days=10)
    # June 25th-28th take 16 (24 left); 3 a day from June 29th cover 8 days, to July 6th.
    assert got["runs_out_on"] == "2026-07-07"
    assert dt.date.fromisoformat(got["runs_out_on"]) > today_s_dose_says
    assert got["days_left"] == 12
    assert got["refill_due"] is False, "12 days is not fewer than 10"
    assert got["plan_ends_on"] == "2026-11-29"
    assert got["runs_out_before_plan_ends"] is True
    # Short: July 7th-12th at 3 (18), then 14 days each at 1.5, 1, 1, 0.5, 0.5, 0.5.
    assert Decimal(str(got["shortfall"])) == 18 + 14 * (Decimal("1.5") + 1 + 1 + Decimal("1.5"))
    assert got["use_changes"][0] == {"starts_on": "2026-06-29", "daily_use": 3}
    assert [c["starts_on"] for c in got["use_changes"]] == [
        "2026-06-29",
        "2026-07-13",
        "2026-07-27",
        "2026-08-24",
        "2026-10-05",
    ]

    later = of(body, "tablet 2 mg")
    assert (later["tracked"], later["on_hand"], later["daily_use"]) == (False, 0, 0)
    assert later["refill_due"] is False, "needed 18 days ahead: not yet due"
    assert later["runs_out_on"] == steps[2]["start_date"] == "2026-07-13"
    assert later["use_changes"][0] == {"starts_on": "2026-07-13", "daily_use": 2}
    expected = sum(tablets_a_day(s, "tablet 2 mg") * s["days"] for s in steps)
    assert Decimal(str(later["shortfall"])) == expected == 161


def test_taken_plan_doses_draw_their_components(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    """A step of 7.5 mg twice a day draws one and a half 5 mg tablets a dose."""
    doc, pat, rx, _, jobs = running(make, clock, database, kb, formulations=TWO_STRENGTHS)
    clock.now = at_london("2026-06-29", "00:05")
    jobs.advance_tapers()
    jobs.materialise()
    assert dispense(make, doc, pat, rx, formulation="tablet 5 mg", quantity=10).status_code == 201
    clock.now = at_london("2026-06-29", "08:10")
    doses = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses?from=2026-06-29&to=2026-06-29", headers=pat.headers
    ).get_json()
    morning = [
        d for d in doses if d["scheduled_at"] == at_london("2026-06-29", "08:00").isoformat()
    ]
    assert len(morning) == 1, doses
    r = make.client.post(f"/v1/doses/{morning[0]['id']}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    got = of(forecast(make, pat, pat, rx), "tablet 5 mg")
    assert Decimal(str(got["on_hand"])) == Decimal("8.5")
    # Tonight's 1.5 leaves 7: June 30th and July 1st take 6; July 2nd is short.
    assert got["runs_out_on"] == "2026-07-02"


def prn(
    make: Builders, clock: FrozenClock, start: str = "2026-05-01"
) -> tuple[Account, Account, dict[str, Any]]:
    clock.now = dt.datetime.fromisoformat(f"{start}T06:00:00+00:00")
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="ibuprofen",
        dose={"amount": 400, "unit": "mg"},
        schedule={"times": [], "as_needed": True, "max_doses_per_day": 3, "min_hours_between": 6},
        start_date=start,
    )
    return doc, pat, rx


def log_prn(make: Builders, pat: Account, rx: dict[str, Any]) -> None:
    r = make.client.post(f"{rx_url(pat, rx)}/prn-doses", json={}, headers=pat.headers)
    assert r.status_code == 201, r.get_json()


def test_an_as_needed_drug_forecasts_from_its_use_over_the_last_four_weeks(
    make: Builders, clock: FrozenClock
) -> None:
    """A tablet a day for the four weeks before the dispense: 30 tablets last 30 days."""
    _, pat, rx = prn(make, clock)
    for day in range(28):
        clock.now = dt.datetime(2026, 5, 13, 10, tzinfo=dt.UTC) + dt.timedelta(days=day)
        log_prn(make, pat, rx)
    clock.now = dt.datetime(2026, 6, 10, 9, tzinfo=dt.UTC)
    r = dispense(make, pat, pat, rx, formulation="tablet 400 mg", quantity=30)
    assert r.status_code == 201, r.get_json()
    body = forecast(make, pat, pat, rx)
    assert body["basis"] == "as-needed"
    assert body["refill_threshold_days"] == 7, "ibuprofen is not withdrawal-risk"
    got = of(body, "tablet 400 mg")
    assert (got["on_hand"], got["daily_use"]) == (30, 1)
    # Nothing is open today; a tablet a day from June 11th lasts to July 10th.
    assert got["runs_out_on"] == "2026-07-11"
    assert (got["runs_out_before_plan_ends"], got["shortfall"]) == (False, 0)


def test_as_needed_doses_after_a_dispense_draw_it_down_and_raise_the_rate(
    make: Builders, clock: FrozenClock
) -> None:
    """Two a day for a week after the dispense, nothing before: 14 in four weeks."""
    _, pat, rx = prn(make, clock)
    clock.now = dt.datetime(2026, 6, 1, 7, tzinfo=dt.UTC)
    assert dispense(make, pat, pat, rx, formulation="tablet 400 mg", quantity=40).status_code == 201
    for day in range(7):
        for hour in (8, 16):
            clock.now = dt.datetime(2026, 6, 1, hour, tzinfo=dt.UTC) + dt.timedelta(days=day)
            log_prn(make, pat, rx)
    clock.now = dt.datetime(2026, 6, 7, 20, tzinfo=dt.UTC)
    got = of(forecast(make, pat, pat, rx), "tablet 400 mg")
    assert got["on_hand"] == 26
    assert Decimal(str(got["daily_use"])) == Decimal(14) / 28
    # Half a tablet a day from June 8th: 26 tablets last 52 days, to July 29th.
    assert got["runs_out_on"] == "2026-07-30"


def test_an_as_needed_drug_started_days_ago_is_averaged_over_its_days_so_far(
    make: Builders, clock: FrozenClock
) -> None:
    """Started June 1st, two tablets a day for five days: 2 a day, not 10 over 28 days."""
    _, pat, rx = prn(make, clock, start="2026-06-01")
    clock.now = dt.datetime(2026, 6, 1, 7, tzinfo=dt.UTC)
    assert dispense(make, pat, pat, rx, formulation="tablet 400 mg", quantity=30).status_code == 201
    for day in range(5):
        for hour in (8, 16):
            clock.now = dt.datetime(2026, 6, 1, hour, tzinfo=dt.UTC) + dt.timedelta(days=day)
            log_prn(make, pat, rx)
    clock.now = dt.datetime(2026, 6, 5, 20, tzinfo=dt.UTC)
    got = of(forecast(make, pat, pat, rx), "tablet 400 mg")
    assert (got["on_hand"], got["daily_use"]) == (20, 2)
    # Two a day from June 6th: 20 tablets last to June 15th.
    assert got["runs_out_on"] == "2026-06-16"
    assert got["refill_due"] is False, "11 days; ibuprofen's threshold is 7"


def plain(
    make: Builders, clock: FrozenClock, schedule: dict[str, Any], start: str
) -> tuple[Account, Account, dict[str, Any]]:
    clock.now = dt.datetime(2026, 6, 9, 12, tzinfo=dt.UTC)  # a Tuesday
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="atorvastatin",
        dose={"amount": 20, "unit": "mg"},
        schedule={"times": ["21:00"], "as_needed": False, **schedule},
        start_date=start,
    )
    return doc, pat, rx


def test_every_other_day_lasts_twice_as_many_days(make: Builders, clock: FrozenClock) -> None:
    """From June 2nd every 2 days: today (June 9th) is not a dose day."""
    _, pat, rx = plain(make, clock, {"every_n_days": 2}, "2026-06-02")
    assert dispense(make, pat, pat, rx, formulation="tablet 20 mg", quantity=10).status_code == 201
    body = forecast(make, pat, pat, rx)
    got = of(body, "tablet 20 mg")
    assert (body["basis"], got["daily_use"], got["plan_ends_on"]) == ("schedule", 0, None)
    # June 10th, 12th, ... 28th: ten doses; June 30th is the first uncovered.
    assert (got["runs_out_on"], got["days_left"]) == ("2026-06-30", 21)
    assert got["use_changes"][:2] == [
        {"starts_on": "2026-06-10", "daily_use": 1},
        {"starts_on": "2026-06-11", "daily_use": 0},
    ]


def test_days_of_the_week_count_only_those_days(make: Builders, clock: FrozenClock) -> None:
    _, pat, rx = plain(make, clock, {"days_of_week": ["mon", "wed", "fri"]}, "2026-06-01")
    assert dispense(make, pat, pat, rx, formulation="tablet 20 mg", quantity=6).status_code == 201
    got = of(forecast(make, pat, pat, rx), "tablet 20 mg")
    # Wed 10, Fri 12, Mon 15, Wed 17, Fri 19, Mon 22; Wednesday 24th is short.
    assert (got["daily_use"], got["runs_out_on"]) == (0, "2026-06-24")
    assert got["refill_due"] is False


def test_the_dispensing_table_reads_its_period_from_the_query(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    """A query string is text: ?period_days=28 is read as 28, not refused."""
    doc, _, _, plan, _ = running(make, clock, database, kb)
    url = f"/v1/taper-plans/{plan['id']}/dispensing"
    for days in (7, 28):
        r = make.client.get(f"{url}?period_days={days}", headers=doc.headers)
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["period_days"] == days
        first = r.get_json()["periods"][0]
        assert dt.date.fromisoformat(first["end"]) - dt.date.fromisoformat(first["start"]) == (
            dt.timedelta(days=days - 1)
        )
    for bad in ("28.5", "a", "0"):
        r = make.client.get(f"{url}?period_days={bad}", headers=doc.headers)
        assert r.status_code == 422, r.get_json()
        assert set(r.get_json()["errors"]) == {"query.period_days"}


@pytest.mark.parametrize(
    ("zone", "utc_hour", "today", "tomorrow"),
    [
        ("Pacific/Kiritimati", 12, "2026-06-11", "2026-06-12"),  # UTC+14: 02:00 on the 11th
        ("Pacific/Honolulu", 6, "2026-06-09", "2026-06-10"),  # UTC-10: 20:00 on the 9th
    ],
)
def test_dispensed_on_is_a_date_where_the_patient_lives(
    make: Builders, clock: FrozenClock, zone: str, utc_hour: int, today: str, tomorrow: str
) -> None:
    """On June 10th in UTC, a date that is already, or not yet, the patient's today."""
    clock.now = dt.datetime(2026, 6, 10, utc_hour, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone=zone)
    rx = make.prescription(doc, pat, start_date="2026-06-01")
    r = dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=1, dispensed_on=tomorrow)
    assert r.status_code == 422, r.get_json()
    assert set(r.get_json()["errors"]) == {"dispensed_on"}
    r = dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=1, dispensed_on=today)
    assert r.status_code == 201, r.get_json()
    r = dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=1)
    assert r.get_json()["dispensed_on"] == today, "today where the patient lives by default"
    assert forecast(make, pat, pat, rx)["today"] == today
