"""The generated plan: steps with dates, doses, flags and what to take at each time.

`to_json` is the plan's one serial form, as stored, and `from_json` reads it back.
Every amount is a string holding the exact decimal ("7.5", "0.25", "33.3"), never a
JSON number, so that no float ever touches a dose; counts (index, days, total_days)
are integers and dates ISO strings. `days` and `total_days` follow from the dates,
so reading them back ignores them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from service.domain.taper.arith import text


class Flag(enum.StrEnum):
    """Why a step needs a second look; listed on a step in this order."""

    EXCEEDS_CAP = "exceeds_cap_needs_approval"
    # A cut above the cap that the formulations force: no dose they make lies between
    # the cap and the current dose. Approved once with the plan, not step by step.
    GRID_LIMITED = "grid_limited"
    # The final jump to the target from a floor set above the drug's sourced one (with
    # EXCEEDS_CAP: approved step by step). From at or below the sourced floor the jump
    # is expected: no flag, and a note says so.
    JUMP_OFF = "jump_off"
    EXTENDED = "extended"
    # Shorter than a week: approved once with the plan.
    SHORT_STEP = "short_step"
    # The dose goes back up to the last one tolerated (a clinician's step back).
    STEP_BACK = "step_back"


class NoteCode(enum.StrEnum):
    """What a plan-level note is about."""

    EXCEEDS_CAP = "exceeds_cap"
    GRID_LIMITED = "grid_limited"
    # Read back from plans stored before the final jump from the floor became expected
    # (a note now says so, and the step carries no flag).
    JUMP_OFF = "jump_off"
    SHORT_STEPS = "short_steps"
    LONG_PLAN = "long_plan"
    CLAMPED = "clamped"
    HYPERBOLIC_TAIL = "hyperbolic_tail_not_achievable"


FLAG_ORDER: tuple[Flag, ...] = tuple(Flag)


def _decimal(value: str, what: str) -> Decimal:
    """A decimal string of the serial form; ValueError naming `what` for anything else."""
    try:
        found = Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not a {what}: {value!r}") from None
    if not found.is_finite():
        raise ValueError(f"not a {what}: {value!r}")
    return found


def _amount(value: str, what: str = "dose") -> Decimal:
    """A dose or quantity: never negative."""
    found = _decimal(value, what)
    if found < 0:
        raise ValueError(f"not a {what}: {value!r}")
    return found


def _optional_amount(value: str | None, what: str) -> Decimal | None:
    return None if value is None else _amount(value, what)


@dataclass(frozen=True, kw_only=True)
class Component:
    """One formulation in one administration: `units` of a tablet or `ml` of a liquid."""

    formulation: str
    dose_mg: Decimal
    units: Decimal | None = None
    ml: Decimal | None = None

    def to_json(self) -> dict[str, str]:
        amount = {"units": self.units} if self.units is not None else {"ml": self.ml}
        out = {k: text(v) for k, v in amount.items() if v is not None}
        return {"formulation": self.formulation, "dose_mg": text(self.dose_mg), **out}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Component:
        return cls(
            formulation=raw["formulation"],
            dose_mg=_amount(raw["dose_mg"]),
            units=_optional_amount(raw.get("units"), "number of units"),
            ml=_optional_amount(raw.get("ml"), "volume"),
        )


@dataclass(frozen=True, kw_only=True)
class Administration:
    """What is taken at one time of day; no components means nothing at that time."""

    time: str
    dose_mg: Decimal
    components: tuple[Component, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "dose_mg": text(self.dose_mg),
            "components": [c.to_json() for c in self.components],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Administration:
        return cls(
            time=raw["time"],
            dose_mg=_amount(raw["dose_mg"]),
            components=tuple(Component.from_json(c) for c in raw["components"]),
        )


@dataclass(frozen=True, kw_only=True)
class Step:
    """One daily dose held from `start_date` to `end_date`, both inclusive."""

    index: int
    start_date: dt.date
    end_date: dt.date
    daily_dose_mg: Decimal
    cut_pct: Decimal
    flags: tuple[Flag, ...]
    administrations: tuple[Administration, ...]

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "days": self.days,
            "daily_dose_mg": text(self.daily_dose_mg),
            "cut_pct": str(self.cut_pct),
            "flags": [f.value for f in self.flags],
            "administrations": [a.to_json() for a in self.administrations],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Step:
        return cls(
            index=int(raw["index"]),
            start_date=dt.date.fromisoformat(raw["start_date"]),
            end_date=dt.date.fromisoformat(raw["end_date"]),
            daily_dose_mg=_amount(raw["daily_dose_mg"]),
            cut_pct=_decimal(raw["cut_pct"], "percentage"),
            flags=tuple(Flag(f) for f in raw["flags"]),
            administrations=tuple(Administration.from_json(a) for a in raw["administrations"]),
        )


# Notes about steps approved one by one (`approve_flagged`), not once with the plan.
PER_STEP: frozenset[NoteCode] = frozenset({NoteCode.EXCEEDS_CAP, NoteCode.JUMP_OFF})


@dataclass(frozen=True, kw_only=True)
class Note:
    """Something the clinician should read before approving: `needs_approval` notes are
    approved once, with the plan; `steps` are the steps it is about, if any."""

    code: NoteCode
    message: str
    needs_approval: bool = False
    steps: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code.value,
            "message": self.message,
            "needs_approval": self.needs_approval,
            "steps": list(self.steps),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Note:
        return cls(
            code=NoteCode(raw["code"]),
            message=raw["message"],
            needs_approval=bool(raw["needs_approval"]),
            steps=tuple(int(i) for i in raw["steps"]),
        )


@dataclass(frozen=True, kw_only=True)
class TaperPlan:
    """A proposed taper, for a clinician to review. `notes` say what to read and what
    needs approval; `warnings` are their messages, as plain text."""

    steps: tuple[Step, ...]
    notes: tuple[Note, ...] = ()

    @property
    def total_days(self) -> int:
        return sum(s.days for s in self.steps)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(n.message for n in self.notes)

    @property
    def steps_to_approve(self) -> tuple[int, ...]:
        """Steps a clinician approves one by one: cuts above the cap the formulations
        could have avoided."""
        return tuple(s.index for s in self.steps if Flag.EXCEEDS_CAP in s.flags)

    @property
    def approvals(self) -> tuple[NoteCode, ...]:
        """Notes approved once, with the plan (cuts above the cap that the formulations
        could have avoided are approved step by step instead)."""
        once = (n.code for n in self.notes if n.needs_approval)
        return tuple(dict.fromkeys(c for c in once if c not in PER_STEP))

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [s.to_json() for s in self.steps],
            "total_days": self.total_days,
            "warnings": list(self.warnings),
            "notes": [n.to_json() for n in self.notes],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TaperPlan:
        """The plan as `to_json` wrote it; ValueError when an amount is not one.
        Plans stored before notes existed keep their warnings as plain notes."""
        if "notes" in raw:
            notes = tuple(Note.from_json(n) for n in raw["notes"])
        else:
            notes = tuple(_legacy_note(w) for w in raw["warnings"])
        return cls(steps=tuple(Step.from_json(s) for s in raw["steps"]), notes=notes)


def _legacy_note(message: str) -> Note:
    code = NoteCode.JUMP_OFF if "floor" in message else NoteCode.EXCEEDS_CAP
    return Note(code=code, message=message)
