"""What to dispense for each period of a taper plan, so that a prescriber can write
the quantities and a pharmacy dispense them (docs/clinical.md, "Supply and refills").

Tablets are dispensed whole: a period needing 3.5 tablets gets 4, and the unused half
is on hand for the next period. A liquid is dispensed in whole bottles of the sizes
given (the smallest total that covers the need), the rest of a bottle carried over
in the same way; with no sizes, in exactly the mL the doses take. So no period is
ever short, and after carry-over no more than one tablet of each strength, or one
bottle of each liquid, is on hand beyond the doses.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import lru_cache

from service.domain.supply.use import ML, TABLET, step_use
from service.domain.taper.arith import PLAN_CONTEXT, plain, text
from service.domain.taper.formulations import Liquid, Tablet, TaperFormulation, canonical
from service.domain.taper.plan import Step, TaperPlan

# Product bounds, not clinical figures: a period of one day to a year (the planner's
# own ceiling on a step, settings.MAX_INTERVAL_DAYS); four weeks unless asked.
MIN_PERIOD_DAYS = 1
MAX_PERIOD_DAYS = 365
DEFAULT_PERIOD_DAYS = 28

Bottles = tuple[tuple[Decimal, int], ...]
"""Whole bottles as (size in mL, count), largest first."""


@dataclass(frozen=True, kw_only=True)
class Line:
    """One formulation in one period (or over the whole plan): tablets or mL."""

    formulation: str
    unit: str
    needed: Decimal
    carried_in: Decimal
    dispense: Decimal
    bottles: Bottles
    left_over: Decimal


@dataclass(frozen=True, kw_only=True)
class Period:
    """`start` to `end`, both inclusive; a line per formulation the plan uses."""

    index: int
    start: dt.date
    end: dt.date
    lines: tuple[Line, ...]


@dataclass(frozen=True, kw_only=True)
class Dispensing:
    """The plan's dispensing table: its periods and the totals over the plan."""

    period_days: int
    start: dt.date
    end: dt.date
    periods: tuple[Period, ...]
    totals: tuple[Line, ...]


def dispensing(
    plan: TaperPlan,
    formulations: Sequence[TaperFormulation],
    *,
    period_days: int,
    bottles: Mapping[str, tuple[Decimal, ...]],
) -> Dispensing:
    """The table for a plan in periods of `period_days` from its first day.

    `formulations` are the plan's (its settings'); `bottles` the sizes in mL each
    liquid is supplied in, by label. ValueError for a period out of range, a
    component whose formulation is not given, or a bottle size that is not positive.
    """
    _check_period_days(period_days)
    if not plan.steps:
        raise ValueError("The plan has no steps.")
    start, end = plan.steps[0].start_date, plan.steps[-1].end_date
    with localcontext(PLAN_CONTEXT):
        used = _used(plan, formulations)
        sizes = {
            label: _sizes(label, bottles.get(label, ()))
            for label, f in used.items()
            if isinstance(f, Liquid)
        }
        windows = list(_windows(start, end, period_days))
        periods = _periods(windows, _period_uses(plan.steps, windows), used, sizes)
        return Dispensing(
            period_days=period_days,
            start=start,
            end=end,
            periods=periods,
            totals=_totals(periods),
        )


def _check_period_days(period_days: int) -> None:
    if (
        isinstance(period_days, bool)
        or not isinstance(period_days, int)
        or not MIN_PERIOD_DAYS <= period_days <= MAX_PERIOD_DAYS
    ):
        raise ValueError(
            f"period_days must be a whole number from {MIN_PERIOD_DAYS} to {MAX_PERIOD_DAYS}."
        )


def _used(plan: TaperPlan, formulations: Sequence[TaperFormulation]) -> dict[str, TaperFormulation]:
    """The formulations the plan takes anywhere, by label: tablets by strength, largest
    first, then liquids, most dilute first (the planner's canonical order)."""
    labels = {c.formulation for s in plan.steps for a in s.administrations for c in a.components}
    given = {f.label: f for f in formulations}
    unknown = sorted(labels - given.keys())
    if unknown:
        raise ValueError(f"The plan uses {', '.join(unknown)}, not among the formulations given.")
    tablets, liquids = canonical(tuple(given.values()))
    ordered: tuple[TaperFormulation, ...] = (*tablets, *liquids)
    return {f.label: f for f in ordered if f.label in labels}


def _sizes(label: str, sizes: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    """A liquid's bottle sizes, ascending and without repeats."""
    for size in sizes:
        if not isinstance(size, Decimal) or not size.is_finite() or size <= 0:
            raise ValueError(f"A bottle size of {label} must be a positive number of mL.")
    return tuple(sorted({plain(s) for s in sizes}))


def _windows(start: dt.date, end: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Blocks of `days` from `start`, the last one cut short at `end`."""
    step = dt.timedelta(days=days)
    while start <= end:
        yield start, min(start + step - dt.timedelta(days=1), end)
        start += step


def _period_uses(
    steps: Sequence[Step], windows: Sequence[tuple[dt.date, dt.date]]
) -> list[dict[str, Decimal]]:
    """What each window takes of each formulation: a step's daily use times the days
    it shares with the window, so a long plan costs its steps and periods, not its days."""
    daily = [step_use(s) for s in steps]
    uses: list[dict[str, Decimal]] = []
    first = 0
    for start, end in windows:
        total: dict[str, Decimal] = {}
        i = first
        while i < len(steps) and steps[i].start_date <= end:
            days = (min(steps[i].end_date, end) - max(steps[i].start_date, start)).days + 1
            if days > 0:
                for label, amount in daily[i].items():
                    total[label] = total.get(label, Decimal(0)) + amount * days
            i += 1
        while first < len(steps) and steps[first].end_date <= end:
            first += 1
        uses.append(total)
    return uses


def _periods(
    windows: Sequence[tuple[dt.date, dt.date]],
    uses: Sequence[Mapping[str, Decimal]],
    used: Mapping[str, TaperFormulation],
    sizes: Mapping[str, tuple[Decimal, ...]],
) -> tuple[Period, ...]:
    """The periods in order, each starting with what the one before left over."""
    carried = dict.fromkeys(used, Decimal(0))
    periods: list[Period] = []
    for index, ((start, end), use) in enumerate(zip(windows, uses, strict=True), start=1):
        lines = tuple(
            _line(f, use.get(label, Decimal(0)), carried[label], sizes.get(label, ()))
            for label, f in used.items()
        )
        carried = {line.formulation: line.left_over for line in lines}
        periods.append(Period(index=index, start=start, end=end, lines=lines))
    return tuple(periods)


def _line(
    f: TaperFormulation, needed: Decimal, carried: Decimal, sizes: tuple[Decimal, ...]
) -> Line:
    """One period of one formulation: what to dispense on top of what is on hand."""
    packs: Bottles = ()
    if isinstance(f, Tablet):
        dispense = Decimal(max(0, math.ceil(needed - carried)))
    elif sizes:
        packs = bottles_covering(needed - carried, sizes)
        dispense = sum((size * count for size, count in packs), Decimal(0))
    else:
        dispense = max(Decimal(0), needed - carried)
    return Line(
        formulation=f.label,
        unit=TABLET if isinstance(f, Tablet) else ML,
        needed=plain(needed),
        carried_in=plain(carried),
        dispense=plain(dispense),
        bottles=packs,
        left_over=plain(carried + dispense - needed),
    )


def bottles_covering(need: Decimal, sizes: tuple[Decimal, ...]) -> Bottles:
    """The whole bottles whose total is the smallest at or above `need`, the fewest
    bottles among equal totals; none when nothing is needed. `sizes` in mL, > 0."""
    if need <= 0:
        return ()
    ordered = sorted(set(sizes))
    scale = 10 ** max(_places(x) for x in (need, *ordered))
    counts = _cover(int(need * scale), tuple(int(s * scale) for s in ordered))
    return tuple((plain(s), n) for s, n in zip(ordered[::-1], counts[::-1], strict=True) if n)


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@lru_cache(maxsize=4096)
def _cover(need: int, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Counts per size (ascending) of the best covering; the largest size fills up.

    The search over the smaller sizes is bounded: L/g bottles of a size s (g the
    greatest common divisor of s and the largest size L) hold what s/g bottles of L
    hold, in more bottles, so the best covering has fewer of each; and more than
    need/s (rounded up) of one size overshoot by a whole bottle. The cost is the
    product of these bounds, small for the few sizes a liquid is supplied in.
    """
    largest = sizes[-1]
    ranges = [range(min(largest // math.gcd(s, largest), -(-need // s) + 1)) for s in sizes[:-1]]

    def filled(smaller: tuple[int, ...]) -> tuple[int, ...]:
        held = sum(n * s for n, s in zip(smaller, sizes, strict=False))
        return (*smaller, max(0, -(-(need - held) // largest)))

    def rank(counts: tuple[int, ...]) -> tuple[int, int]:
        return sum(n * s for n, s in zip(counts, sizes, strict=True)), sum(counts)

    return min((filled(c) for c in itertools.product(*ranges)), key=rank)


def _totals(periods: Sequence[Period]) -> tuple[Line, ...]:
    """Per formulation over the plan; what is left is what the last period leaves."""
    return tuple(_total([p.lines[i] for p in periods]) for i in range(len(periods[0].lines)))


def _total(lines: Sequence[Line]) -> Line:
    packs: dict[Decimal, int] = {}
    for line in lines:
        for size, count in line.bottles:
            packs[size] = packs.get(size, 0) + count
    return Line(
        formulation=lines[0].formulation,
        unit=lines[0].unit,
        needed=plain(sum((x.needed for x in lines), Decimal(0))),
        carried_in=Decimal(0),
        dispense=plain(sum((x.dispense for x in lines), Decimal(0))),
        bottles=tuple(sorted(packs.items(), reverse=True)),
        left_over=lines[-1].left_over,
    )


CSV_HEADER = (
    *("period", "start", "end", "formulation", "unit"),
    *("needed", "carried_in", "dispense", "bottles", "left_over"),
)


def csv_rows(d: Dispensing) -> list[list[str]]:
    """The table as rows for the pharmacy's CSV: the header, every period's lines that
    need or dispense something, then the totals (period "total")."""
    rows = [list(CSV_HEADER)]
    for p in d.periods:
        rows += [
            _row(str(p.index), p.start, p.end, line)
            for line in p.lines
            if line.needed > 0 or line.dispense > 0
        ]
    rows += [_row("total", d.start, d.end, line) for line in d.totals]
    return rows


def _row(period: str, start: dt.date, end: dt.date, line: Line) -> list[str]:
    packs = "; ".join(f"{count} x {text(size)} {ML}" for size, count in line.bottles)
    amounts = (line.needed, line.carried_in, line.dispense)
    return [
        period,
        start.isoformat(),
        end.isoformat(),
        line.formulation,
        line.unit,
        *(text(x) for x in amounts),
        packs,
        text(line.left_over),
    ]
