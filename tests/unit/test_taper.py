"""Taper planner: plans checked by hand, step by step."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from service.domain.taper import (
    Flag,
    Hyperbolic,
    Linear,
    Liquid,
    Manual,
    ManualStep,
    NoteCode,
    Percent,
    Tablet,
    TaperPlan,
    TaperSettings,
    plan_taper,
)
from tests.unit.taper_drugs import (
    DIAZEPAM,
    ESCITALOPRAM,
    ESCITALOPRAM_SERT,
    SERTRALINE,
    formulations_of,
    settings,
)

D = Decimal
DIAZEPAM_TABLETS = tuple(f for f in formulations_of(DIAZEPAM) if isinstance(f, Tablet))
SERTRALINE_TABLETS = tuple(f for f in formulations_of(SERTRALINE) if isinstance(f, Tablet))
EXCEEDS = (Flag.EXCEEDS_CAP, Flag.EXTENDED)
LIMITED = (Flag.GRID_LIMITED, Flag.EXTENDED)


def doses(plan: TaperPlan) -> list[str]:
    return [str(s.daily_dose_mg) for s in plan.steps]


def cuts(plan: TaperPlan) -> list[str]:
    return [str(s.cut_pct) for s in plan.steps]


def taken(plan: TaperPlan, index: int) -> list[tuple[str, str, list[tuple[str, str]]]]:
    """(time, dose, [(formulation, units or ml)]) of one step, for readable asserts."""
    return [
        (
            a.time,
            str(a.dose_mg),
            [(c.formulation, str(c.units if c.units is not None else c.ml)) for c in a.components],
        )
        for a in plan.steps[index].administrations
    ]


def diazepam_percent(**more: Any) -> TaperSettings:
    base: dict[str, Any] = {
        "start": "20",
        "algorithm": Percent(percent=D(10)),
        "formulations": DIAZEPAM_TABLETS,
        "max_cut_pct": D(25),
        "floor_dose_mg": D(1),
        "interval_days": 14,
        "times": ("08:00", "20:00"),
    }
    return settings(**(base | more))


def test_diazepam_ten_percent_in_two_daily_doses() -> None:
    # 10% of the current dose, rounded up onto the 0.5 mg grid that halves of 2/5/10 mg
    # make (1.5 mg is the one amount below 2 they cannot make): 18*0.9 = 16.2 -> 16.5.
    # From 4.5 down, 10% falls between grid points: the smallest cut within the cap is
    # taken (4.5 -> 4, 11.1%). 4 is 2 + 2; 3.5 could only be 2.5 + 1, which raises the
    # morning's 2 mg, so 3 (2 + 1). Below that no dose within the cap keeps each time
    # at or below the step before: 3 -> 2 and 2 -> 1 are forced by the grid, flagged
    # and doubled to 28 days. 1 mg is the floor: the jump to 0 is expected.
    plan = plan_taper(diazepam_percent())
    assert doses(plan) == [
        "20",
        "18",
        "16.5",
        "15",
        "13.5",
        "12.5",
        "11.5",
        "10.5",
        "9.5",
        "9",
        "8.5",
        "8",
        "7.5",
        "7",
        "6.5",
        "6",
        "5.5",
        "5",
        "4.5",
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    assert cuts(plan)[:6] == ["0.0", "10.0", "8.3", "9.1", "10.0", "7.4"]
    assert cuts(plan)[-5:] == ["11.1", "25.0", "33.3", "50.0", "100.0"]
    assert str(plan.steps[12].cut_pct) == "6.3"  # 8 -> 7.5 is 6.25%, rounded half up
    assert [s.flags for s in plan.steps[:21]] == [()] * 21
    assert plan.steps[21].flags == plan.steps[22].flags == LIMITED
    assert plan.steps[23].flags == ()
    assert [s.days for s in plan.steps] == [14] * 21 + [28, 28, 14]
    assert plan.total_days == 21 * 14 + 2 * 28 + 14
    assert plan.steps[0].start_date == dt.date(2025, 1, 6)
    assert plan.steps[0].end_date == dt.date(2025, 1, 19)
    assert plan.steps[-1].end_date == dt.date(2025, 1, 6) + dt.timedelta(days=363)
    assert [n.code for n in plan.notes] == [NoteCode.JUMP_OFF, NoteCode.GRID_LIMITED]
    assert plan.warnings[0] == (
        "step 23 goes from 1 mg to the 0 mg target, a 100.0% cut above the 25% cap, "
        "expected from at or below the 1 mg floor"
    )
    assert plan.notes[1].steps == (21, 22)
    assert plan.notes[1].needs_approval
    assert plan.approvals == (NoteCode.GRID_LIMITED,)
    assert plan.steps_to_approve == ()


def test_diazepam_breakdowns_are_even_and_prefer_whole_tablets() -> None:
    plan = plan_taper(diazepam_percent())
    assert taken(plan, 0) == [
        ("08:00", "10", [("tablet 10 mg", "1")]),
        ("20:00", "10", [("tablet 10 mg", "1")]),
    ]
    # 9 mg: 5 + 2 + 2 (three whole tablets) rather than 10/2 + 2 + 2 or 5 + 2 + 2*1/2.
    assert taken(plan, 1)[0] == ("08:00", "9", [("tablet 5 mg", "1"), ("tablet 2 mg", "2")])
    # 16.5 cannot be halved on a 0.5 grid: 8.5 and 8, the larger share at the first time.
    assert taken(plan, 2) == [
        ("08:00", "8.5", [("tablet 5 mg", "1.5"), ("tablet 2 mg", "0.5")]),
        ("20:00", "8", [("tablet 5 mg", "1"), ("tablet 2 mg", "1.5")]),
    ]
    # 1 mg cannot be split into two achievable shares but 1 + 0.
    assert taken(plan, 22) == [
        ("08:00", "1", [("tablet 2 mg", "0.5")]),
        ("20:00", "0", []),
    ]
    assert taken(plan, 23) == [("08:00", "0", []), ("20:00", "0", [])]


def test_the_larger_share_goes_where_the_clinician_says() -> None:
    plan = plan_taper(diazepam_percent(larger_dose_time="20:00"))
    assert taken(plan, 2) == [
        ("08:00", "8", [("tablet 5 mg", "1"), ("tablet 2 mg", "1.5")]),
        ("20:00", "8.5", [("tablet 5 mg", "1.5"), ("tablet 2 mg", "0.5")]),
    ]


def test_escitalopram_hyperbolic_with_the_liquid() -> None:
    # occupancy(d) = 90.7 d / (1.33 + d); each step removes 5 points. At the top the
    # 25% cap binds: 20 -> ideal 9.99, cap 15. Lower down the model does: from 3.6 mg
    # (66.23%) the ideal is the dose at 61.23%, 1.33*61.23/29.47 = 2.7635 mg, rounded
    # up onto the 0.1 mg grid of the 1 mg/mL solution: 2.8.
    plan = plan_taper(
        settings(
            start="20",
            algorithm=Hyperbolic(occupancy_step_pct=D(5)),
            occupancy=ESCITALOPRAM_SERT,
            formulations=formulations_of(ESCITALOPRAM),
            floor_dose_mg=D("0.5"),
            interval_days=28,
        )
    )
    assert doses(plan) == [
        "20",
        "15",
        "11.3",
        "8.5",
        "6.4",
        "4.8",
        "3.6",
        "2.8",
        "2.2",
        "1.8",
        "1.5",
        "1.3",
        "1.1",
        "0.9",
        "0.8",
        "0.7",
        "0.6",
        "0.5",
        "0",
    ]
    mg_cuts = [a - b for a, b in zip(doses_d(plan)[6:-1], doses_d(plan)[7:-1], strict=False)]
    assert mg_cuts == sorted(mg_cuts, reverse=True)  # ever smaller mg cuts near the end
    assert taken(plan, 2) == [
        ("08:00", "11.3", [("tablet 10 mg", "1"), ("oral-solution 1 mg/mL", "1.3")])
    ]
    assert taken(plan, 7) == [("08:00", "2.8", [("oral-solution 1 mg/mL", "2.8")])]
    assert [s.flags for s in plan.steps] == [()] * 19
    assert plan.total_days == 19 * 28
    # The cap binds at the top. At the bottom 0.5 -> 0 mg removes 24.8 points: the jump
    # from the 0.5 mg floor, expected and said, not a tail the formulations fail.
    codes = [n.code for n in plan.notes]
    assert codes == [NoteCode.JUMP_OFF, NoteCode.CLAMPED]
    assert plan.notes[1].steps == (1, 2, 3, 4, 5)


def test_a_hyperbolic_tail_the_tablets_cannot_follow_is_said() -> None:
    # Tablets only and no floor: 5 -> 0 mg removes about 72 points of occupancy.
    tablets = tuple(f for f in formulations_of(ESCITALOPRAM) if isinstance(f, Tablet))
    plan = plan_taper(
        settings(
            start="20",
            algorithm=Hyperbolic(occupancy_step_pct=D(5)),
            occupancy=ESCITALOPRAM_SERT,
            formulations=tablets,
        )
    )
    (tail,) = [n for n in plan.notes if n.code is NoteCode.HYPERBOLIC_TAIL]
    assert doses(plan)[-2:] == ["5", "0"]
    assert tail.steps == (len(plan.steps) - 1,)
    assert "(5 -> 0 mg) lowers occupancy by 71.6 points, against a target of 5" in tail.message


def doses_d(plan: TaperPlan) -> list[Decimal]:
    return [s.daily_dose_mg for s in plan.steps]


def test_sertraline_linear_with_a_slower_end() -> None:
    # 25 mg a step within a 25% cap on the 12.5 mg grid of halved 25/50/100 mg tablets:
    # 75 -> 50 would cut 33%, so 62.5 (the cap allows down to 56.25); 37.5 -> 25 is
    # the only move left (33.3%): flagged. Below 50 mg a step lasts 42 days.
    plan = plan_taper(
        settings(
            start="100",
            algorithm=Linear(step_mg=D(25)),
            formulations=SERTRALINE_TABLETS,
            floor_dose_mg=D(25),
            interval_days=28,
            slow_below_mg=D(50),
            slow_interval_days=42,
        )
    )
    assert doses(plan) == ["100", "75", "62.5", "50", "37.5", "25", "0"]
    assert cuts(plan) == ["0.0", "25.0", "16.7", "20.0", "25.0", "33.3", "100.0"]
    assert [s.flags for s in plan.steps] == [(), (), (), (), (), LIMITED, ()]
    assert [s.days for s in plan.steps] == [28, 28, 28, 28, 42, 84, 42]
    assert plan.warnings[1].startswith("step 5 cut more than the 25% cap (33.3%)")
    assert plan.warnings[2].startswith("clamped: a 25 mg cut is more than the 25% cap allows")
    assert taken(plan, 2) == [("08:00", "62.5", [("tablet 50 mg", "1"), ("tablet 25 mg", "0.5")])]


def test_manual_plan_flags_the_cut_over_the_cap_and_lengthens_it() -> None:
    steps = [("10", 14), ("8", 14), ("5", 21), ("4", 14), ("2", 14), ("0", 7)]
    plan = plan_taper(
        settings(
            start="10",
            algorithm=Manual(steps=tuple(ManualStep(daily_dose_mg=D(d), days=n) for d, n in steps)),
            formulations=DIAZEPAM_TABLETS,
            floor_dose_mg=D(2),
        )
    )
    assert doses(plan) == ["10", "8", "5", "4", "2", "0"]
    # 8 -> 5 is 37.5% (flagged, 21 -> 42 days); 4 -> 2 is 50% (flagged); 2 -> 0 is the
    # jump from the floor, expected.
    assert [s.flags for s in plan.steps] == [(), (), EXCEEDS, (), EXCEEDS, ()]
    assert [s.days for s in plan.steps] == [14, 14, 42, 14, 28, 7]
    assert len(plan.warnings) == 3
    assert plan.warnings[0].startswith(
        "step 2 cuts 37.5% (8 -> 5 mg), above the 25% cap within 14 days: needs approval"
    )
    assert plan.steps_to_approve == (2, 4)


def test_a_manual_plan_of_short_steps_is_flagged_within_any_fourteen_days() -> None:
    # Weekly cuts of 10, 11 and 12.5% under a 15% cap: 10 -> 8 in the 14 days to day 14
    # is 20%, flagged and doubled to 14 days; the 7 mg step then starts on day 28, when
    # the fortnight before holds only 8 mg (12.5%), so it is not. The last two steps
    # are shorter than a week.
    steps = [("10", 7), ("9", 7), ("8", 7), ("7", 5), ("0", 5)]
    plan = plan_taper(
        settings(
            start="10",
            algorithm=Manual(steps=tuple(ManualStep(daily_dose_mg=D(d), days=n) for d, n in steps)),
            formulations=DIAZEPAM_TABLETS,
            max_cut_pct=D(15),
            floor_dose_mg=D(7),
        )
    )
    assert [s.flags for s in plan.steps] == [
        (),
        (),
        EXCEEDS,
        (Flag.SHORT_STEP,),
        (Flag.SHORT_STEP,),
    ]
    assert [s.days for s in plan.steps] == [7, 7, 14, 5, 5]
    assert plan.steps_to_approve == (2,)
    assert plan.approvals == (NoteCode.SHORT_STEPS,)


def test_a_maintained_target_is_reached_within_the_cap_without_a_jump() -> None:
    plan = plan_taper(
        settings(
            start="20",
            target_dose_mg=D(10),
            algorithm=Percent(percent=D(25)),
            formulations=formulations_of(ESCITALOPRAM),
        )
    )
    # 11.3 -> 8.475 would pass the target: the plan stops at 10 (an 11.5% cut).
    assert doses(plan) == ["20", "15", "11.3", "10"]
    assert all(s.flags == () for s in plan.steps)
    assert plan.notes == ()


def test_a_floor_above_the_sourced_one_makes_the_final_jump_need_approval() -> None:
    # The clinician sets a 5 mg floor where the sources give 1 mg: 20 -> 15 -> 11.5 ...
    # down to 5 mg, then the stop, above the cap and approved step by step.
    plan = plan_taper(diazepam_percent(floor_dose_mg=D(5), sourced_floor_mg=D(1)))
    last = plan.steps[-1]
    assert doses(plan)[-2:] == ["5", "0"]
    assert last.flags == (Flag.EXCEEDS_CAP, Flag.JUMP_OFF)
    assert plan.steps_to_approve == (last.index,)
    (jump,) = [n for n in plan.notes if n.code is NoteCode.JUMP_OFF]
    assert jump.needs_approval
    assert "floor set above the drug's sourced 1 mg" in jump.message
    assert NoteCode.JUMP_OFF not in plan.approvals
    # At the sourced floor the same jump is expected.
    plan = plan_taper(diazepam_percent(floor_dose_mg=D(1), sourced_floor_mg=D(1)))
    assert plan.steps[-1].flags == ()


def test_a_start_at_or_below_the_floor_jumps_straight_to_the_target() -> None:
    plan = plan_taper(diazepam_percent(start="2", floor_dose_mg=D(2)))
    assert doses(plan) == ["2", "0"]
    assert plan.steps[1].flags == ()
    assert [n.code for n in plan.notes] == [NoteCode.JUMP_OFF]
    assert plan.approvals == ()


def test_a_cap_of_100_percent_never_flags() -> None:
    plan = plan_taper(diazepam_percent(max_cut_pct=D(100), floor_dose_mg=D(0)))
    assert all(s.flags == () for s in plan.steps)
    assert doses(plan)[-4:] == ["3", "2", "1", "0"]


def test_times_are_ordered_and_the_larger_share_goes_first() -> None:
    plan = plan_taper(diazepam_percent(times=("20:00", "08:00", "13:00")))
    assert [a.time for a in plan.steps[0].administrations] == ["08:00", "13:00", "20:00"]
    # 20 in three: 7 + 6.5 + 6.5 (6.666 is not on the 0.5 grid).
    assert [str(a.dose_mg) for a in plan.steps[0].administrations] == ["7", "6.5", "6.5"]


def test_json_is_plain_and_exact() -> None:
    plan = plan_taper(diazepam_percent())
    data = plan.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["total_days"] == 364
    assert data["steps"][2] == {
        "index": 2,
        "start_date": "2025-02-03",
        "end_date": "2025-02-16",
        "days": 14,
        "daily_dose_mg": "16.5",
        "cut_pct": "8.3",
        "flags": [],
        "administrations": [
            {
                "time": "08:00",
                "dose_mg": "8.5",
                "components": [
                    {"formulation": "tablet 5 mg", "units": "1.5", "dose_mg": "7.5"},
                    {"formulation": "tablet 2 mg", "units": "0.5", "dose_mg": "1"},
                ],
            },
            {
                "time": "20:00",
                "dose_mg": "8",
                "components": [
                    {"formulation": "tablet 5 mg", "units": "1", "dose_mg": "5"},
                    {"formulation": "tablet 2 mg", "units": "1.5", "dose_mg": "3"},
                ],
            },
        ],
    }
    assert data["steps"][21]["flags"] == ["grid_limited", "extended"]
    assert data["notes"][1]["code"] == "grid_limited"


def test_liquid_components_give_millilitres() -> None:
    plan = plan_taper(
        settings(
            start="2.5",
            algorithm=Percent(percent=D(20)),
            formulations=(Liquid(mg_per_ml=D(1)),),
            floor_dose_mg=D(1),
        )
    )
    component = plan.steps[1].administrations[0].components[0].to_json()
    assert component == {"formulation": "oral-solution 1 mg/mL", "ml": "2", "dose_mg": "2"}
