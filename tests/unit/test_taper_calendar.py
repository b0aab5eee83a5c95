"""The dose calendar of a taper plan: what it gives on each local date (paused,
before it starts, after its last step), and the doses planned from it, with the
schedule's DST rules and windows that meet without a gap or a repeat."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.domain.prescriptions import Schedule
from service.domain.schedule import dose_instants, wall_time_instant
from service.domain.taper import Administration, Step, TaperPlan
from service.domain.taper.calendar import (
    administrations_on,
    planned_doses,
    taper_calendar,
)
from tests.unit.taper_checks import attempt
from tests.unit.taper_strategies import generated_settings

LONDON = ZoneInfo("Europe/London")
D = Decimal
T8, T20 = dt.time(8), dt.time(20)


def admin(time: str, mg: str) -> Administration:
    return Administration(time=time, dose_mg=D(mg), components=())


def step(index: int, start: str, end: str, daily: str, *given: tuple[str, str]) -> Step:
    return Step(
        index=index,
        start_date=dt.date.fromisoformat(start),
        end_date=dt.date.fromisoformat(end),
        daily_dose_mg=D(daily),
        cut_pct=D(0),
        flags=(),
        administrations=tuple(admin(t, mg) for t, mg in given),
    )


def plan_of(*steps: Step) -> TaperPlan:
    return TaperPlan(steps=steps)


# Diazepam 20 -> 15 -> 12.5 -> 0 mg a day, at 08:00 and 20:00.
PLAN = plan_of(
    step(0, "2026-06-11", "2026-06-24", "20", ("08:00", "10"), ("20:00", "10")),
    step(1, "2026-06-25", "2026-07-08", "15", ("08:00", "7.5"), ("20:00", "7.5")),
    step(2, "2026-07-09", "2026-07-22", "12.5", ("08:00", "7.5"), ("20:00", "5")),
    step(3, "2026-07-23", "2026-07-23", "0", ("08:00", "0"), ("20:00", "0")),
)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def on(text: str, *, status: str = "approved", paused_on: str | None = None) -> Any:
    found = administrations_on(
        PLAN,
        status=status,
        paused_on=day(paused_on) if paused_on else None,
        day=day(text),
    )
    return None if found is None else dict(found)


def test_each_date_gives_its_steps_amounts_per_time() -> None:
    assert on("2026-06-10") is None, "before the first step the prescription's terms hold"
    assert on("2026-06-11") == {T8: D(10), T20: D(10)}
    assert on("2026-06-24") == {T8: D(10), T20: D(10)}
    assert on("2026-06-25") == {T8: D("7.5"), T20: D("7.5")}
    assert on("2026-07-09") == {T8: D("7.5"), T20: D(5)}
    assert on("2026-07-22") == {T8: D("7.5"), T20: D(5)}
    assert on("2026-07-23") == {}, "an administration of 0 mg is no dose"
    assert on("2027-01-01") == {}, "after the last step its dose stays"


def test_after_a_last_step_above_zero_its_dose_stays() -> None:
    kept = replace(PLAN, steps=PLAN.steps[:3])
    found = administrations_on(kept, status="active", paused_on=None, day=day("2026-12-01"))
    assert found == {T8: D("7.5"), T20: D(5)}


@pytest.mark.parametrize("status", ["draft", "cancelled", "completed"])
def test_a_plan_not_approved_or_ended_sets_no_dose(status: str) -> None:
    assert taper_calendar(PLAN, status=status) is None
    assert on("2026-06-25", status=status) is None


def test_approved_and_active_plans_give_the_same_calendar() -> None:
    assert taper_calendar(PLAN, status="approved") == taper_calendar(PLAN, status="active")


def test_a_pause_holds_the_step_of_the_day_it_was_paused() -> None:
    paused = {"status": "paused", "paused_on": "2026-06-27"}
    assert on("2026-06-26", **paused) == {T8: D("7.5"), T20: D("7.5")}
    for later in ("2026-06-27", "2026-07-09", "2026-07-23", "2027-03-01"):
        assert on(later, **paused) == {T8: D("7.5"), T20: D("7.5")}, later


def test_a_pause_before_the_first_step_leaves_the_prescriptions_terms() -> None:
    paused = {"status": "paused", "paused_on": "2026-06-05"}
    assert on("2026-06-05", **paused) is None
    assert on("2026-06-25", **paused) is None


def test_a_paused_plan_needs_the_day_it_was_paused() -> None:
    with pytest.raises(ValueError, match="paused"):
        taper_calendar(PLAN, status="paused")


@settings(max_examples=100, deadline=None)
@given(generated_settings(), st.integers(-30, 400), st.integers(0, 400))
def test_every_generated_plan_gives_the_step_of_each_date(
    settings_: Any, offset: int, pause_offset: int
) -> None:
    # Settings the planner refuses (a plan of more than ten years, say) make no plan.
    typed = attempt(settings_)
    assume(isinstance(typed, TaperPlan))
    assert isinstance(typed, TaperPlan)
    plan = typed.to_json()
    steps = plan["steps"]
    first = day(steps[0]["start_date"])
    today = first + dt.timedelta(days=offset)
    calendar = taper_calendar(typed, status="active")
    assert calendar is not None
    found = calendar.on(today)
    inside = [s for s in steps if day(s["start_date"]) <= today <= day(s["end_date"])]
    if today < first:
        assert found is None
    else:
        current = inside[0] if inside else steps[-1]
        assert today > day(steps[-1]["end_date"]) or len(inside) == 1
        assert dict(found or {}) == {
            dt.time.fromisoformat(a["time"]): D(a["dose_mg"])
            for a in current["administrations"]
            if D(a["dose_mg"]) > 0
        }
        assert sum((found or {}).values(), D(0)) == D(current["daily_dose_mg"])
    paused_on = first + dt.timedelta(days=pause_offset)
    paused = taper_calendar(typed, status="paused", paused_on=paused_on)
    assert paused is not None
    held = calendar.on(paused_on)
    for later in (paused_on, today, paused_on + dt.timedelta(days=offset % 90)):
        if later >= paused_on:
            assert paused.on(later) == held
        else:
            assert paused.on(later) == calendar.on(later)


def london(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(dt.UTC)


TERMS = Schedule(times=(T8, T20))


def doses(
    start: str, end: str, *, status: str = "approved", plan: TaperPlan = PLAN, **kw: Any
) -> list[tuple[str, Decimal, bool]]:
    calendar = taper_calendar(plan, status=status, paused_on=kw.pop("paused_on", None))
    return [
        (p.instant.local.strftime("%Y-%m-%d %H:%M"), p.amount, p.by_plan)
        for p in planned_doses(
            kw.pop("schedule", TERMS),
            D(10),
            calendar,
            start_date=kw.pop("start_date", day("2026-06-01")),
            end_date=kw.pop("end_date", None),
            zone=LONDON,
            window_start=london(start),
            window_end=london(end),
        )
    ]


def test_doses_follow_the_plan_on_its_dates_and_the_terms_before() -> None:
    assert doses("2026-06-10T00:00", "2026-06-12T00:00") == [
        ("2026-06-10 08:00", D(10), False),
        ("2026-06-10 20:00", D(10), False),
        ("2026-06-11 08:00", D(10), True),
        ("2026-06-11 20:00", D(10), True),
    ]
    assert doses("2026-07-08T12:00", "2026-07-09T21:00") == [
        ("2026-07-08 20:00", D("7.5"), True),
        ("2026-07-09 08:00", D("7.5"), True),
        ("2026-07-09 20:00", D(5), True),
    ]
    assert doses("2026-07-22T12:00", "2026-07-30T00:00") == [
        ("2026-07-22 20:00", D(5), True),
    ], "no dose from the step of nothing on"


def test_the_plans_times_replace_the_terms_and_the_end_date_still_ends() -> None:
    plan = plan_of(step(0, "2026-06-11", "2026-06-20", "9", ("07:30", "6"), ("22:00", "3")))
    found = doses(
        "2026-06-10T00:00",
        "2026-06-14T00:00",
        plan=plan,
        schedule=Schedule(times=(T8,), every_n_days=2),
        end_date=day("2026-06-12"),
    )
    assert found == [
        ("2026-06-11 07:30", D(6), True),
        ("2026-06-11 22:00", D(3), True),
        ("2026-06-12 07:30", D(6), True),
        ("2026-06-12 22:00", D(3), True),
    ], "every other day from 06-01 has no dose on 06-10; the plan doses daily"


def test_without_a_plan_the_doses_are_the_schedules() -> None:
    window = (london("2026-03-28T00:00"), london("2026-04-02T00:00"))
    schedule = Schedule(times=(T8, T20), every_n_days=3, amounts=(D(2), D(1)))
    expected = [
        (d.at, schedule.amount_at(d.slot, D(10)))
        for d in dose_instants(
            schedule,
            start_date=day("2026-03-01"),
            end_date=None,
            zone=LONDON,
            window_start=window[0],
            window_end=window[1],
        )
    ]
    found = planned_doses(
        schedule,
        D(10),
        None,
        start_date=day("2026-03-01"),
        end_date=None,
        zone=LONDON,
        window_start=window[0],
        window_end=window[1],
    )
    assert [(p.instant.at, p.amount) for p in found] == expected
    assert not any(p.by_plan for p in found)


def test_a_plan_time_in_the_spring_gap_fires_when_the_clocks_jump() -> None:
    plan = plan_of(step(0, "2026-03-28", "2026-04-05", "5", ("01:30", "5")))
    calendar = taper_calendar(plan, status="active")
    found = planned_doses(
        TERMS,
        D(10),
        calendar,
        start_date=day("2026-03-01"),
        end_date=None,
        zone=LONDON,
        window_start=london("2026-03-29T00:00"),
        window_end=london("2026-03-30T00:00"),
    )
    assert [p.instant.at for p in found] == [
        wall_time_instant(day("2026-03-29"), dt.time(1, 30), LONDON)
    ]
    assert found[0].instant.at == dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)


# A plan whose steps change around both of London's 2026 clock changes.
DST_PLAN = plan_of(
    step(0, "2026-03-20", "2026-03-28", "20", ("01:30", "10"), ("20:00", "10")),
    step(1, "2026-03-29", "2026-10-24", "15", ("01:30", "7.5"), ("20:00", "7.5")),
    step(2, "2026-10-25", "2026-11-30", "10", ("01:30", "5"), ("20:00", "5")),
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["2026-03-26T00:00", "2026-10-22T00:00"]),
    st.integers(0, 6 * 24 * 60),
    st.sampled_from(["active", "paused"]),
)
def test_adjacent_windows_neither_repeat_nor_drop_a_dose(
    start: str, cut_minutes: int, status: str
) -> None:
    window_start = london(start)
    window_end = window_start + dt.timedelta(days=6)
    cut = window_start + dt.timedelta(minutes=cut_minutes)
    paused_on = day("2026-10-24") if status == "paused" else None
    calendar = taper_calendar(DST_PLAN, status=status, paused_on=paused_on)

    def between(a: dt.datetime, b: dt.datetime) -> list[tuple[dt.datetime, Decimal]]:
        return [
            (p.instant.at, p.amount)
            for p in planned_doses(
                TERMS,
                D(10),
                calendar,
                start_date=day("2026-03-01"),
                end_date=None,
                zone=LONDON,
                window_start=a,
                window_end=b,
            )
        ]

    whole = between(window_start, window_end)
    assert whole == between(window_start, cut) + between(cut, window_end)
    assert len({at for at, _ in whole}) == len(whole)
    assert calendar is not None
    for at, amount in whole:
        local = at.astimezone(LONDON)
        given_ = calendar.on(local.date())
        assert given_ is not None
        slots = {wall_time_instant(local.date(), t, LONDON): mg for t, mg in given_.items()}
        assert slots[at] == amount
