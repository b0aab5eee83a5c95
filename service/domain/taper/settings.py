"""What a clinician asks of the taper planner, and the checks it must pass first."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from service.domain.catalog import Occupancy
from service.domain.errors import Problems
from service.domain.prescriptions import DOSE_UNIT_CEILINGS, EARLIEST_START, LATEST_DATE
from service.domain.taper.formulations import TaperFormulation, amount_problem

# 2025 joint ASAM guideline on benzodiazepine tapering (J Gen Intern Med, PMID
# 40526204): cuts of 5-10% every 2-4 weeks as the usual start, at most 25% every
# 2 weeks. The defaults are its ceiling, not its usual start.
DEFAULT_MAX_CUT_PCT = Decimal(25)
DEFAULT_INTERVAL_DAYS = 14
DEFAULT_TIMES = ("08:00",)
MAX_INTERVAL_DAYS = 365
# The cap bounds the cuts made within any window of this many days (ASAM 2025: at most
# 25% every 2 weeks), so plans with shorter steps cut less at each step.
CAP_WINDOW_DAYS = 14
# Product defaults, not guideline figures: steps shorter than a week, and plans longer
# than two years or 60 steps, are unusual enough to be approved once with the plan.
SHORT_STEP_DAYS = 7
LONG_PLAN_DAYS = 730
LONG_PLAN_STEPS = 60
# Longer plans are almost certainly a typing slip (1% a year); refused, naming the
# setting. The step bound also guarantees that planning ends whatever the input.
MAX_PLAN_DAYS = 3653
MAX_STEPS = 500
# Taper doses are taken at most a few times a day; six covers every-4-hour opioids.
MAX_ADMINISTRATIONS = 6
MAX_DOSE_MG = DOSE_UNIT_CEILINGS["mg"]
HUNDRED = Decimal(100)
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, kw_only=True)
class Linear:
    """The same number of mg off the daily dose at every step."""

    step_mg: Decimal
    kind: ClassVar[str] = "linear"


@dataclass(frozen=True, kw_only=True)
class Percent:
    """A fixed percentage of the current daily dose off at every step."""

    percent: Decimal
    kind: ClassVar[str] = "percent"


@dataclass(frozen=True, kw_only=True)
class Hyperbolic:
    """Equal falls in receptor occupancy (percentage points) at every step, which
    gives ever smaller mg cuts near the end (Horowitz & Taylor, Lancet Psychiatry 2019)."""

    occupancy_step_pct: Decimal
    kind: ClassVar[str] = "hyperbolic"


@dataclass(frozen=True, kw_only=True)
class ManualStep:
    daily_dose_mg: Decimal
    days: int


@dataclass(frozen=True, kw_only=True)
class Manual:
    """Steps entered by the clinician, from the start dose down to the target."""

    steps: tuple[ManualStep, ...]
    kind: ClassVar[str] = "manual"


Algorithm = Linear | Percent | Hyperbolic | Manual


@dataclass(frozen=True, kw_only=True)
class TaperSettings:
    """Everything a plan depends on; the same settings always give the same plan.

    `occupancy` is the drug's catalog model, needed by the hyperbolic algorithm only.
    `floor_dose_mg`: the move to the target may exceed the cap only from a dose at or
    below it (0: never). `slow_interval_days` applies to steps whose dose is strictly
    below `slow_below_mg`. `larger_dose_time`: when a daily dose cannot be shared
    equally, the time of day that takes the larger amount (default the first).
    `sourced_floor_mg`: the floor the drug's sources give (the catalog's); a final jump
    from above it, under a higher floor the clinician set, is approved step by step.
    None: the floor given is taken as sourced.
    """

    start_dose_mg: Decimal
    algorithm: Algorithm
    formulations: tuple[TaperFormulation, ...]
    start_date: dt.date
    target_dose_mg: Decimal = Decimal(0)
    max_cut_pct: Decimal = DEFAULT_MAX_CUT_PCT
    floor_dose_mg: Decimal = Decimal(0)
    interval_days: int = DEFAULT_INTERVAL_DAYS
    slow_below_mg: Decimal | None = None
    slow_interval_days: int | None = None
    times: tuple[str, ...] = DEFAULT_TIMES
    larger_dose_time: str | None = None
    occupancy: Occupancy | None = None
    sourced_floor_mg: Decimal | None = None


def check_fields(s: TaperSettings, problems: Problems) -> bool:
    """Every check that needs no dose grid; True when the grid can be built."""
    start_ok = _check_amount(s.start_dose_mg, "start_dose_mg", problems, allow_zero=False)
    target_ok = _check_amount(s.target_dose_mg, "target_dose_mg", problems, allow_zero=True)
    if start_ok and target_ok and s.target_dose_mg >= s.start_dose_mg:
        problems.add("target_dose_mg", f"Must be below start_dose_mg ({s.start_dose_mg} mg).")
    _check_amount(s.floor_dose_mg, "floor_dose_mg", problems, allow_zero=True)
    cap = amount_problem(s.max_cut_pct, ceiling=HUNDRED, allow_zero=False)
    if cap:
        problems.add("max_cut_pct", cap)
    _check_intervals(s, problems)
    if not isinstance(s.start_date, dt.date) or not EARLIEST_START <= s.start_date <= LATEST_DATE:
        problems.add("start_date", f"Must be a date between {EARLIEST_START} and {LATEST_DATE}.")
    times_ok = _check_times(s.times, problems)
    if times_ok and s.larger_dose_time is not None and s.larger_dose_time not in s.times:
        problems.add("larger_dose_time", f"Must be one of the times: {', '.join(s.times)}.")
    _check_algorithm(s, problems)
    return start_ok and times_ok


def _check_amount(value: Decimal, path: str, problems: Problems, *, allow_zero: bool) -> bool:
    message = amount_problem(value, ceiling=MAX_DOSE_MG, allow_zero=allow_zero)
    if message:
        problems.add(path, message)
    return message is None


def _check_days(value: int, path: str, problems: Problems, low: int = 1) -> bool:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= MAX_INTERVAL_DAYS
    ):
        problems.add(path, f"Must be a whole number of days from {low} to {MAX_INTERVAL_DAYS}.")
        return False
    return True


def _check_intervals(s: TaperSettings, problems: Problems) -> None:
    interval_ok = _check_days(s.interval_days, "interval_days", problems)
    if s.slow_below_mg is None and s.slow_interval_days is not None:
        problems.add("slow_below_mg", "Give the dose below which slow_interval_days applies.")
    if s.slow_below_mg is not None:
        _check_amount(s.slow_below_mg, "slow_below_mg", problems, allow_zero=False)
        if s.slow_interval_days is None:
            problems.add("slow_interval_days", "Give the interval used below slow_below_mg.")
    if s.slow_interval_days is not None:
        # A "slow" interval shorter than the normal one would speed the end up.
        low = s.interval_days if interval_ok else 1
        _check_days(s.slow_interval_days, "slow_interval_days", problems, low)


def ordered_times(times: tuple[str, ...]) -> tuple[str, ...]:
    """The administration times in chronological order."""
    return tuple(sorted(times))


def share_order(times: tuple[str, ...], larger: str | None) -> tuple[int, ...]:
    """Positions of the chronological times in the order they take the day's shares,
    largest first: the chosen time (default the first), then the others in order."""
    ordered = ordered_times(times)
    first = ordered.index(larger) if larger in ordered else 0
    return (first, *(i for i in range(len(ordered)) if i != first))


def _check_times(times: tuple[str, ...], problems: Problems) -> bool:
    found: list[str] = []
    if not isinstance(times, tuple | list) or not times:
        found.append("Give at least one time of day.")
    else:
        bad = [t for t in times if not isinstance(t, str) or not _TIME.match(t)]
        if bad:
            found.append(f"Give times as HH:MM (24-hour): {', '.join(map(str, bad))}.")
        if len(set(times)) != len(times):
            found.append("Times must not repeat.")
        if len(times) > MAX_ADMINISTRATIONS:
            found.append(f"At most {MAX_ADMINISTRATIONS} times a day.")
    for message in found:
        problems.add("times", message)
    return not found


def _check_algorithm(s: TaperSettings, problems: Problems) -> None:
    a = s.algorithm
    if isinstance(a, Linear):
        _check_amount(a.step_mg, "algorithm.step_mg", problems, allow_zero=False)
    elif isinstance(a, Percent):
        message = amount_problem(a.percent, ceiling=HUNDRED, allow_zero=False)
        if message:
            problems.add("algorithm.percent", message)
    elif isinstance(a, Hyperbolic):
        message = amount_problem(a.occupancy_step_pct, ceiling=HUNDRED, allow_zero=False)
        if message:
            problems.add("algorithm.occupancy_step_pct", message)
        if s.occupancy is None:
            problems.add(
                "algorithm.kind",
                "hyperbolic needs the drug's occupancy model and this drug has none; "
                "use linear, percent or manual.",
            )
    elif isinstance(a, Manual):
        _check_manual(s, a, problems)
    else:
        problems.add("algorithm.kind", "Use linear, percent, hyperbolic or manual.")


def _check_manual(s: TaperSettings, a: Manual, problems: Problems) -> None:
    """Steps from the start dose down to the target, strictly decreasing."""
    if not 2 <= len(a.steps) <= MAX_STEPS:
        problems.add(
            "algorithm.steps",
            f"Give from 2 to {MAX_STEPS} steps: the start dose first, the target last.",
        )
        return
    previous: Decimal | None = None
    for i, step in enumerate(a.steps):
        path = f"algorithm.steps[{i}]"
        _check_days(step.days, f"{path}.days", problems)
        dose_ok = _check_amount(
            step.daily_dose_mg, f"{path}.daily_dose_mg", problems, allow_zero=True
        )
        dose = step.daily_dose_mg if dose_ok else None
        if dose is not None and previous is not None and dose >= previous:
            problems.add(
                f"{path}.daily_dose_mg", f"Must be below the previous step's {previous} mg."
            )
        previous = dose
    first, last = a.steps[0].daily_dose_mg, a.steps[-1].daily_dose_mg
    if _valid(first) and _valid(s.start_dose_mg) and first != s.start_dose_mg:
        problems.add(
            "algorithm.steps[0].daily_dose_mg", f"Must be the start dose ({s.start_dose_mg} mg)."
        )
    if _valid(last) and _valid(s.target_dose_mg) and last != s.target_dose_mg:
        problems.add(
            f"algorithm.steps[{len(a.steps) - 1}].daily_dose_mg",
            f"Must be the target dose ({s.target_dose_mg} mg).",
        )


def _valid(value: Decimal) -> bool:
    return amount_problem(value, ceiling=MAX_DOSE_MG, allow_zero=True) is None
