"""The dispensing table of a taper plan, on hand-worked examples (issue 22, point 4).

The bottle sizes here are inputs chosen for their arithmetic, not catalog figures.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from service.domain.supply.dispensing import (
    Dispensing,
    Line,
    bottles_covering,
    csv_rows,
    dispensing,
)
from service.domain.taper import Administration, Component, Liquid, Step, Tablet, TaperPlan

D = Decimal
START = dt.date(2025, 3, 3)
T10 = Tablet(strength_mg=D(10), divisible_by=2)
T5 = Tablet(strength_mg=D(5), divisible_by=2)
T2 = Tablet(strength_mg=D(2), divisible_by=2)
SOLUTION = Liquid(mg_per_ml=D(1))
FORMS = (T2, SOLUTION, T10, T5)


def tablets(f: Tablet, units: str) -> Component:
    return Component(formulation=f.label, dose_mg=f.strength_mg * D(units), units=D(units))


def liquid(ml: str) -> Component:
    return Component(formulation=SOLUTION.label, dose_mg=D(ml), ml=D(ml))


def plan(*steps: tuple[int, tuple[tuple[Component, ...], ...]]) -> TaperPlan:
    """Contiguous steps from START: (days, the components taken at each time)."""
    made: list[Step] = []
    start = START
    for index, (days, times) in enumerate(steps, start=1):
        admins = tuple(
            Administration(
                time=f"{8 + 4 * i:02d}:00",
                dose_mg=sum((c.dose_mg for c in cs), D(0)),
                components=cs,
            )
            for i, cs in enumerate(times)
        )
        end = start + dt.timedelta(days=days - 1)
        made.append(
            Step(
                index=index,
                start_date=start,
                end_date=end,
                daily_dose_mg=sum((a.dose_mg for a in admins), D(0)),
                cut_pct=D(0),
                flags=(),
                administrations=admins,
            )
        )
        start = end + dt.timedelta(days=1)
    return TaperPlan(steps=tuple(made))


def table(p: TaperPlan, days: int, **bottles: tuple[Decimal, ...]) -> Dispensing:
    return dispensing(p, FORMS, period_days=days, bottles={SOLUTION.label: bottles.get("ml", ())})


def amounts(line: Line) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    return line.needed, line.carried_in, line.dispense, line.left_over


def test_a_split_tablets_other_half_is_carried_over() -> None:
    """2.5 mg a day from 5 mg scored tablets: 3.5 tablets a week; 4, then 3."""
    d = table(plan((21, ((tablets(T5, "0.5"),),))), 7)
    lines = [p.lines[0] for p in d.periods]
    assert [amounts(x) for x in lines] == [
        (D("3.5"), D(0), D(4), D("0.5")),
        (D("3.5"), D("0.5"), D(3), D(0)),
        (D("3.5"), D(0), D(4), D("0.5")),
    ]
    assert {x.unit for x in lines} == {"tablet"}
    assert amounts(d.totals[0]) == (D("10.5"), D(0), D(11), D("0.5"))


def test_periods_run_from_the_first_day_and_the_last_ends_with_the_plan() -> None:
    d = table(plan((6, ((tablets(T5, "1"),),)), (4, ((tablets(T2, "1"),),))), 7)
    assert (d.start, d.end, d.period_days) == (START, START + dt.timedelta(days=9), 7)
    assert [(p.index, p.start, p.end) for p in d.periods] == [
        (1, START, START + dt.timedelta(days=6)),
        (2, START + dt.timedelta(days=7), START + dt.timedelta(days=9)),
    ]
    # The 2 mg step starts on day 7, inside the first period.
    assert [[x.needed for x in p.lines] for p in d.periods] == [[D(6), D(1)], [D(0), D(3)]]


def test_lines_follow_the_canonical_order_and_only_what_the_plan_uses() -> None:
    day = ((tablets(T10, "1"), tablets(T2, "0.5"), liquid("0.4")),)
    d = table(plan((7, day)), 7)
    assert [x.formulation for x in d.periods[0].lines] == [
        "tablet 10 mg",
        "tablet 2 mg",
        "oral-solution 1 mg/mL",
    ]
    assert [x.unit for x in d.totals] == ["tablet", "tablet", "mL"]


def test_doses_at_several_times_add_up() -> None:
    d = table(plan((10, ((tablets(T5, "0.5"),), (tablets(T5, "1"),), (tablets(T5, "0.5"),)))), 10)
    assert amounts(d.periods[0].lines[0]) == (D(20), D(0), D(20), D(0))


def test_a_liquid_in_bottles_carries_what_is_left_in_the_bottle() -> None:
    """20 mL a day in 500 mL bottles, a fortnight at a time: 280 mL each period."""
    d = table(plan((42, ((liquid("20"),),))), 14, ml=(D(500),))
    lines = [p.lines[0] for p in d.periods]
    assert [amounts(x) for x in lines] == [
        (D(280), D(0), D(500), D(220)),
        (D(280), D(220), D(500), D(440)),
        (D(280), D(440), D(0), D(160)),
    ]
    assert [x.bottles for x in lines] == [((D(500), 1),), ((D(500), 1),), ()]
    assert amounts(d.totals[0]) == (D(840), D(0), D(1000), D(160))
    assert d.totals[0].bottles == ((D(500), 2),)


def test_two_bottle_sizes_give_the_smallest_total_that_covers() -> None:
    """310 mL from 150 and 200 mL bottles: 150 + 200 = 350, not 400 or 450."""
    d = table(plan((31, ((liquid("10"),),))), 31, ml=(D(150), D(200)))
    line = d.periods[0].lines[0]
    assert (line.dispense, line.bottles, line.left_over) == (
        D(350),
        ((D(200), 1), (D(150), 1)),
        D(40),
    )


@pytest.mark.parametrize(
    ("need", "sizes", "expected"),
    [
        ("150", ("100", "200"), ((D(200), 1),)),  # 200 either way: one bottle, not two
        ("300", ("100", "200"), ((D(200), 1), (D(100), 1))),
        ("950", ("473", "500"), ((D(500), 1), (D(473), 1))),  # 973, not 1000
        ("310", ("200", "150"), ((D(200), 1), (D(150), 1))),  # sizes in any order
        ("946", ("473", "500"), ((D(473), 2),)),
        ("6", ("2.5", "5"), ((D(5), 1), (D("2.5"), 1))),  # 7.5 in two bottles, not three
        ("0.1", ("5",), ((D(5), 1),)),
        ("1000", ("500",), ((D(500), 2),)),
        ("0", ("500",), ()),
        ("-3", ("500",), ()),
    ],
)
def test_bottles_covering(need: str, sizes: tuple[str, ...], expected: object) -> None:
    assert bottles_covering(D(need), tuple(D(s) for s in sizes)) == expected


def test_a_liquid_without_bottle_sizes_is_dispensed_to_the_mL() -> None:
    d = table(plan((5, ((liquid("1.5"),), (liquid("0.7"),))), (4, ((liquid("0.3"),),))), 7)
    lines = [p.lines[0] for p in d.periods]
    assert [amounts(x) for x in lines] == [
        (D("11.6"), D(0), D("11.6"), D(0)),
        (D("0.6"), D(0), D("0.6"), D(0)),
    ]
    assert all(x.bottles == () for x in lines)


def test_a_period_with_no_use_dispenses_nothing() -> None:
    """After the last dose (a target step of 0 mg), nothing is dispensed, and what the
    last dose left stays on hand."""
    d = table(plan((7, ((tablets(T5, "0.5"),),)), (14, ((),))), 7)
    assert [amounts(p.lines[0]) for p in d.periods] == [
        (D("3.5"), D(0), D(4), D("0.5")),
        (D(0), D("0.5"), D(0), D("0.5")),
        (D(0), D("0.5"), D(0), D("0.5")),
    ]
    assert amounts(d.totals[0]) == (D("3.5"), D(0), D(4), D("0.5"))


def test_totals_sum_each_formulation_over_the_plan() -> None:
    day = ((tablets(T10, "1"), tablets(T5, "0.5")), (liquid("2.5"),))
    d = table(plan((10, day), (10, ((liquid("2"),),))), 7, ml=(D(30), D(100)))
    ten, five, solution = d.totals
    assert amounts(ten) == (D(10), D(0), D(10), D(0))
    assert amounts(five) == (D(5), D(0), D(5), D(0))
    # Periods need 17.5, 15.5 and 12 mL: 30 (12.5 left), 30 (27 left), nothing (15 left).
    assert [p.lines[2].dispense for p in d.periods] == [D(30), D(30), D(0)]
    assert amounts(solution) == (D(45), D(0), D(60), D(15))
    assert solution.bottles == ((D(30), 2),)


def test_csv_rows() -> None:
    day = ((tablets(T5, "0.5"), liquid("0.5")),)
    d = table(plan((10, day), (4, ((),))), 7, ml=(D(5),))
    week1, week2 = ["1", "2025-03-03", "2025-03-09"], ["2", "2025-03-10", "2025-03-16"]
    total = ["total", "2025-03-03", "2025-03-16"]
    tablet, solution = ["tablet 5 mg", "tablet"], ["oral-solution 1 mg/mL", "mL"]
    header = ["period", "start", "end", "formulation", "unit"]
    header += ["needed", "carried_in", "dispense", "bottles", "left_over"]
    assert csv_rows(d) == [
        header,
        [*week1, *tablet, "3.5", "0", "4", "", "0.5"],
        [*week1, *solution, "3.5", "0", "5", "1 x 5 mL", "1.5"],
        [*week2, *tablet, "1.5", "0.5", "1", "", "0"],
        [*week2, *solution, "1.5", "1.5", "0", "", "0"],
        [*total, *tablet, "5", "0", "5", "", "0"],
        [*total, *solution, "5", "0", "5", "1 x 5 mL", "0"],
    ]


def test_a_formulation_the_caller_did_not_give_is_refused_by_name() -> None:
    p = plan((7, ((tablets(T5, "1"), tablets(T10, "1")),)))
    with pytest.raises(ValueError, match="tablet 10 mg") as caught:
        dispensing(p, (T5, SOLUTION), period_days=7, bottles={})
    assert "tablet 5 mg" not in str(caught.value)


@pytest.mark.parametrize("days", [0, -7, 366, True, 7.0])
def test_a_period_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="period_days"):
        table(plan((7, ((tablets(T5, "1"),),))), days)


@pytest.mark.parametrize("days", [1, 365])
def test_the_bounds_of_the_period_are_accepted(days: int) -> None:
    d = table(plan((400, ((tablets(T5, "1"),),))), days)
    assert len(d.periods) == -(-400 // days)
    assert d.totals[0].dispense == D(400)


@pytest.mark.parametrize("size", [D(0), D(-5), D("NaN")])
def test_a_bottle_size_must_be_positive(size: Decimal) -> None:
    with pytest.raises(ValueError, match="oral-solution 1 mg/mL"):
        table(plan((7, ((liquid("1"),),))), 7, ml=(D(500), size))


def test_a_long_plan_is_counted_by_steps_and_periods() -> None:
    """A ten-year plan of weekly steps in weekly periods: each step's use lands in its
    period, whatever the offset between steps and periods."""
    steps = [(7 if i % 3 else 5, ((tablets(T2, "0.5" if i % 2 else "1"),),)) for i in range(600)]
    p = plan(*steps)
    d = table(p, 7)
    assert d.end == p.steps[-1].end_date
    assert len(d.periods) == -(-p.total_days // 7)
    expected = sum(
        (s.days * (s.administrations[0].components[0].units or D(0)) for s in p.steps), D(0)
    )
    assert expected == sum(x.lines[0].needed for x in d.periods) == d.totals[0].needed
