"""What a generated plan tells the clinician: flagged cuts, clamped settings, long or
short plans and, for a hyperbolic plan, a tail the formulations cannot follow.

Each note has a code the console and the API can act on, a message in plain words,
whether it is approved once with the plan, and the steps it is about
(docs/clinical.md, "Taper planner").
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise

from service.domain.taper.arith import text
from service.domain.taper.plan import Flag, Note, NoteCode, Step
from service.domain.taper.settings import (
    CAP_WINDOW_DAYS,
    LONG_PLAN_DAYS,
    LONG_PLAN_STEPS,
    SHORT_STEP_DAYS,
    Hyperbolic,
    Linear,
    Percent,
    TaperSettings,
)

# A hyperbolic step whose occupancy drop is more than this many times the target is
# "not near" it: a product default, wide enough to ignore the grid's rounding.
TAIL_TOLERANCE = Decimal("1.5")
_LISTED = 8


def plan_notes(
    settings: TaperSettings, steps: Sequence[Step], clamped: Sequence[int]
) -> tuple[Note, ...]:
    notes = [*_flagged(settings, steps), *_clamped(settings, clamped)]
    notes.extend(_tail(settings, steps))
    notes.extend(_length(steps))
    return tuple(notes)


def step_list(indices: Sequence[int]) -> str:
    """ "step 3" or "steps 3, 4 and 9", the first few only when there are many."""
    shown = [str(i) for i in indices[:_LISTED]]
    more = len(indices) - len(shown)
    if more:
        return f"steps {', '.join(shown)} and {more} more"
    if len(shown) == 1:
        return f"step {shown[0]}"
    return f"steps {', '.join(shown[:-1])} and {shown[-1]}"


def _flagged(settings: TaperSettings, steps: Sequence[Step]) -> list[Note]:
    cap = text(settings.max_cut_pct)
    notes: list[Note] = []
    limited: list[Step] = []
    for before, step in pairwise(steps):
        move = f"{text(before.daily_dose_mg)} -> {text(step.daily_dose_mg)} mg"
        if Flag.JUMP_OFF in step.flags:
            sourced = text(settings.sourced_floor_mg or Decimal(0))
            notes.append(
                Note(
                    code=NoteCode.JUMP_OFF,
                    message=(
                        f"step {step.index} stops from {text(before.daily_dose_mg)} mg, a "
                        f"{step.cut_pct}% cut above the {cap}% cap, from the "
                        f"{text(settings.floor_dose_mg)} mg floor set above the drug's sourced "
                        f"{sourced} mg: needs approval"
                    ),
                    needs_approval=True,
                    steps=(step.index,),
                )
            )
        elif Flag.EXCEEDS_CAP in step.flags:
            notes.append(
                Note(
                    code=NoteCode.EXCEEDS_CAP,
                    message=(
                        f"step {step.index} cuts {step.cut_pct}% ({move}), above the {cap}% cap "
                        f"within {CAP_WINDOW_DAYS} days: needs approval; lengthened from "
                        f"{step.days // 2} to {step.days} days"
                    ),
                    needs_approval=True,
                    steps=(step.index,),
                )
            )
        elif _jumps_off(settings, before, step):
            notes.append(
                Note(
                    code=NoteCode.JUMP_OFF,
                    message=(
                        f"step {step.index} goes from {text(before.daily_dose_mg)} mg to the "
                        f"{text(step.daily_dose_mg)} mg target, a {step.cut_pct}% cut above the "
                        f"{cap}% cap, expected from at or below the "
                        f"{text(settings.floor_dose_mg)} mg floor"
                    ),
                    steps=(step.index,),
                )
            )
        if Flag.GRID_LIMITED in step.flags:
            limited.append(step)
    if limited:
        cuts = ", ".join(f"{s.cut_pct}%" for s in limited[:_LISTED])
        notes.append(
            Note(
                code=NoteCode.GRID_LIMITED,
                message=(
                    f"{step_list([s.index for s in limited])} cut more than the {cap}% cap "
                    f"({cuts}): the formulations make no dose in between that keeps every time "
                    "of day at or below its amount the step before. Each lasts twice its "
                    "interval; approved once with the plan"
                ),
                needs_approval=True,
                steps=tuple(s.index for s in limited),
            )
        )
    return notes


def _jumps_off(settings: TaperSettings, before: Step, step: Step) -> bool:
    """The final move to the target from at or below the floor, above the cap."""
    return (
        step.daily_dose_mg == settings.target_dose_mg
        and 0 < before.daily_dose_mg <= settings.floor_dose_mg
        and (before.daily_dose_mg - step.daily_dose_mg) * 100
        > settings.max_cut_pct * before.daily_dose_mg
    )


def _asked(settings: TaperSettings) -> str:
    a = settings.algorithm
    if isinstance(a, Percent):
        return f"a {text(a.percent)}% cut"
    if isinstance(a, Linear):
        return f"a {text(a.step_mg)} mg cut"
    if isinstance(a, Hyperbolic):
        return f"a {text(a.occupancy_step_pct)}-point occupancy step"
    return "the algorithm"


def _clamped(settings: TaperSettings, clamped: Sequence[int]) -> list[Note]:
    if not clamped:
        return []
    cap = text(settings.max_cut_pct)
    return [
        Note(
            code=NoteCode.CLAMPED,
            message=(
                f"clamped: {_asked(settings)} is more than the {cap}% cap allows at "
                f"{step_list(clamped)}; those steps cut less, so that no {CAP_WINDOW_DAYS} days "
                f"cut more than {cap}%"
            ),
            steps=tuple(clamped),
        )
    ]


def occupancy_drops(settings: TaperSettings, steps: Sequence[Step]) -> list[Decimal]:
    """Occupancy points lost at each step after the first (empty without a model)."""
    model = settings.occupancy
    if model is None:
        return []
    levels = [model.at(s.daily_dose_mg) for s in steps]
    return [a - b for a, b in pairwise(levels)]


def _tail(settings: TaperSettings, steps: Sequence[Step]) -> list[Note]:
    a = settings.algorithm
    if not isinstance(a, Hyperbolic):
        return []
    drops = occupancy_drops(settings, steps)
    # The final jump from at or below the floor is expected, and has its own note.
    expected = {
        i for i, (before, step) in enumerate(pairwise(steps)) if _jumps_off(settings, before, step)
    }
    drops = [Decimal(0) if i in expected else d for i, d in enumerate(drops)]
    if not drops or max(drops) == 0:
        return []
    largest = max(drops)
    if largest <= a.occupancy_step_pct * TAIL_TOLERANCE:
        return []
    index = drops.index(largest) + 1
    before, step = steps[index - 1], steps[index]
    points = largest.quantize(Decimal("0.1"))
    return [
        Note(
            code=NoteCode.HYPERBOLIC_TAIL,
            message=(
                f"hyperbolic tail not achievable: step {index} ({text(before.daily_dose_mg)} -> "
                f"{text(step.daily_dose_mg)} mg) lowers occupancy by {points} points, against a "
                f"target of {text(a.occupancy_step_pct)}; the formulations make no smaller dose"
            ),
            steps=(index,),
        )
    ]


def _length(steps: Sequence[Step]) -> list[Note]:
    notes: list[Note] = []
    short = [s.index for s in steps if Flag.SHORT_STEP in s.flags]
    if short:
        notes.append(
            Note(
                code=NoteCode.SHORT_STEPS,
                message=(
                    f"{step_list(short)} last less than {SHORT_STEP_DAYS} days: approved once "
                    "with the plan"
                ),
                needs_approval=True,
                steps=tuple(short),
            )
        )
    total = sum(s.days for s in steps)
    if total > LONG_PLAN_DAYS or len(steps) > LONG_PLAN_STEPS:
        notes.append(
            Note(
                code=NoteCode.LONG_PLAN,
                message=(
                    f"this plan lasts {total} days over {len(steps)} steps, more than "
                    f"{LONG_PLAN_DAYS // 365} years or {LONG_PLAN_STEPS} steps: approved once "
                    "with the plan"
                ),
                needs_approval=True,
            )
        )
    return notes
