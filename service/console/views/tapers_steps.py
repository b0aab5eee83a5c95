"""A taper plan's steps in words, for the planner's preview and the plan's page: what
each flag means (the chart's own words, service.domain.taper.chart), what to take at
each time, and which notes are about a step."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from service.domain.taper import Administration, Note, Step
from service.domain.taper.arith import text
from service.domain.taper.chart import FLAG_TEXT
from service.domain.taper.plan import Flag, NoteCode
from service.domain.timezones import is_valid_timezone

# A flag's badge: a short name and its colour class (tapers.css; console.css).
BADGES: dict[str, tuple[str, str]] = {
    Flag.EXCEEDS_CAP.value: ("Over the cap", "flag-danger"),
    Flag.GRID_LIMITED.value: ("Grid-limited", "flag-grid"),
    Flag.JUMP_OFF.value: ("Final jump", "flag-warn"),
    Flag.EXTENDED.value: ("Lengthened", "flag-info"),
    Flag.SHORT_STEP.value: ("Short step", "flag-warn"),
    Flag.STEP_BACK.value: ("Step back", "flag-info"),
}

# Where the chart's hover text is too short to stand alone in a table.
REASONS: dict[str, str] = {
    Flag.EXTENDED.value: "lasts longer than the step interval",
}
NOTE_NAMES: dict[str, str] = {
    NoteCode.EXCEEDS_CAP.value: "over the cap",
    NoteCode.GRID_LIMITED.value: "grid-limited cuts",
    NoteCode.JUMP_OFF.value: "final jump",
    NoteCode.SHORT_STEPS.value: "short steps",
    NoteCode.LONG_PLAN.value: "long plan",
    NoteCode.CLAMPED.value: "cuts held to the cap",
    NoteCode.HYPERBOLIC_TAIL.value: "tail not achievable",
}


@dataclass(frozen=True)
class StepWords:
    """What the steps table writes out; `approved` are the steps over the cap a
    clinician has approved one by one."""

    notes: Sequence[Note] = ()
    approved: Sequence[int] = ()

    def badge(self, flag: str) -> tuple[str, str]:
        return BADGES.get(flag, (flag, "flag-info"))

    def reason(self, step: Step, flag: str) -> str:
        if flag == Flag.EXCEEDS_CAP.value:
            state = "approved" if step.index in self.approved else "needs clinician approval"
            return f"cuts {text(step.cut_pct)} % in one step, more than the cap allows; {state}"
        return REASONS.get(flag) or FLAG_TEXT.get(flag, flag)

    def notes_of(self, step: Step) -> list[tuple[int, str]]:
        """The notes about `step`: their place in the plan's notes and their name."""
        return [
            (i, NOTE_NAMES.get(n.code.value, n.code.value))
            for i, n in enumerate(self.notes)
            if step.index in n.steps
        ]

    def taken(self, a: Administration) -> str:
        """ "08:00: 7.5 mg as 1 x tablet 5 mg + 0.5 x tablet 5 mg" (or "08:00: nothing")."""
        if not a.components:
            return f"{a.time}: nothing"
        parts = [
            f"{text(c.units)} x {c.formulation}"
            if c.units is not None
            else f"{text(c.ml if c.ml is not None else Decimal(0))} mL of {c.formulation}"
            for c in a.components
        ]
        return f"{a.time}: {text(a.dose_mg)} mg as {' + '.join(parts)}"


def local_today(timezone: str | None, now: dt.datetime) -> dt.date:
    """Today where the patient lives (UTC for a name that is not an IANA place, which
    is never looked up: a path or an over-long name does not reach the file system)."""
    zone: dt.tzinfo = dt.UTC
    if timezone and is_valid_timezone(timezone):
        zone = zoneinfo.ZoneInfo(timezone)
    return now.astimezone(zone).date()


def svg(markup: str) -> Markup:
    """The domain's chart, already escaped by its renderer, to place inline."""
    return Markup(markup)  # noqa: S704 (the renderer escapes every text and attribute)
