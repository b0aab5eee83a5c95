"""Prescription terms (what, how much, when) and their life cycle.

A prescription is never edited in place: `revise` returns new terms that are
stored as the next version, and status changes go through `transition`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from service.domain.errors import DomainValidationError, Problems, TransitionError


class Status(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISCONTINUED = "discontinued"


class Action(enum.StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    DISCONTINUE = "discontinue"


_TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.ACTIVE, Action.PAUSE): Status.PAUSED,
    (Status.PAUSED, Action.RESUME): Status.ACTIVE,
    (Status.ACTIVE, Action.DISCONTINUE): Status.DISCONTINUED,
    (Status.PAUSED, Action.DISCONTINUE): Status.DISCONTINUED,
}


def transition(status: Status, action: Action) -> Status:
    """The status after `action`; a discontinued prescription is final."""
    try:
        return _TRANSITIONS[(status, action)]
    except KeyError:
        raise TransitionError(
            f"cannot {action.value} a prescription that is {status.value}"
        ) from None


# Plausibility ceilings for one administration, per unit. They catch data-entry
# slips (10000 instead of 10.000) and are deliberately far above any labelled
# dose; they are not clinical maxima, which the interaction and dosing checks own.
DOSE_UNIT_CEILINGS: dict[str, Decimal] = {
    "mg": Decimal(10_000),
    "mcg": Decimal(100_000),
    "g": Decimal(100),
    "mL": Decimal(1_000),
    "units": Decimal(10_000_000),
    "IU": Decimal(10_000_000),
    "mmol": Decimal(1_000),
    "mEq": Decimal(1_000),
    "tablet": Decimal(20),
    "capsule": Decimal(20),
    "puff": Decimal(20),
    "drop": Decimal(50),
    "patch": Decimal(10),
    "application": Decimal(10),
}
DOSE_UNITS = tuple(DOSE_UNIT_CEILINGS)
DOSE_DECIMAL_PLACES = 4

ROUTES = (
    "oral",
    "sublingual",
    "buccal",
    "topical",
    "transdermal",
    "inhalation",
    "nasal",
    "ophthalmic",
    "otic",
    "rectal",
    "vaginal",
    "subcutaneous",
    "intramuscular",
    "intravenous",
)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_TIMES_PER_DAY = 24
MAX_EVERY_N_DAYS = 365
MAX_PRN_DOSES_PER_DAY = 24
MAX_PRN_INTERVAL_HOURS = Decimal(72)
# How much a prescription's words may hold, whichever door they come through (the
# JSON API's schemas, the console's forms, a FHIR MedicationRequest).
MAX_DRUG_LENGTH = 200
MAX_TEXT_LENGTH = 2000  # instructions, reasons, an override's or an unlisted drug's why
MAX_ACKNOWLEDGED = 100  # findings acknowledged at once
MAX_FINDING_ID_LENGTH = 32
# Prescriptions outside this window are almost certainly typing mistakes.
EARLIEST_START = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


def plain_amount(amount: Decimal) -> Decimal:
    """10.0000 -> 10 and 2.5000 -> 2.5, without exponent notation (1E+1)."""
    n = amount.normalize()
    return n.quantize(Decimal(1)) if n.as_tuple().exponent > 0 else n  # type: ignore[operator]


@dataclass(frozen=True, kw_only=True)
class Dose:
    amount: Decimal
    unit: str


@dataclass(frozen=True, kw_only=True)
class Schedule:
    times: tuple[dt.time, ...] = ()
    every_n_days: int = 1
    days_of_week: tuple[str, ...] | None = None
    as_needed: bool = False
    max_doses_per_day: int | None = None
    min_hours_between: Decimal | None = None
    # The amount at each of `times` (same order) where they differ, as in a taper
    # step of 5 mg in the morning and 2.5 mg at night; otherwise the dose's amount.
    amounts: tuple[Decimal, ...] | None = None

    def amount_at(self, slot: dt.time, default: Decimal) -> Decimal:
        """The amount taken at `slot`, one of `times`."""
        if self.amounts is None:
            return default
        return self.amounts[self.times.index(slot)]

    def daily_total(self, default: Decimal) -> Decimal:
        """What a dose day adds up to, given the dose's amount."""
        if self.amounts is None:
            return default * len(self.times)
        return sum(self.amounts, Decimal(0))

    def to_json(self) -> dict[str, Any]:
        return {
            "times": [t.strftime("%H:%M") for t in self.times],
            "every_n_days": self.every_n_days,
            "days_of_week": list(self.days_of_week) if self.days_of_week is not None else None,
            "as_needed": self.as_needed,
            "max_doses_per_day": self.max_doses_per_day,
            "min_hours_between": (
                str(self.min_hours_between) if self.min_hours_between is not None else None
            ),
            "amounts": [str(a) for a in self.amounts] if self.amounts is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Schedule:
        mhb = data.get("min_hours_between")
        dow = data.get("days_of_week")
        amounts = data.get("amounts")
        return cls(
            times=tuple(dt.time.fromisoformat(t) for t in data.get("times", [])),
            every_n_days=int(data.get("every_n_days", 1)),
            days_of_week=tuple(dow) if dow is not None else None,
            as_needed=bool(data.get("as_needed", False)),
            max_doses_per_day=data.get("max_doses_per_day"),
            min_hours_between=Decimal(mhb) if mhb is not None else None,
            amounts=tuple(Decimal(a) for a in amounts) if amounts is not None else None,
        )


@dataclass(frozen=True, kw_only=True)
class PrescriptionTerms:
    drug: str
    dose: Dose
    route: str
    schedule: Schedule
    start_date: dt.date
    end_date: dt.date | None = None
    instructions: str | None = None


REVISABLE_FIELDS = frozenset(
    {"drug", "dose", "route", "schedule", "start_date", "end_date", "instructions"}
)


def _check_amount(amount: Decimal, unit: str, field: str, problems: Problems) -> None:
    ceiling = DOSE_UNIT_CEILINGS.get(unit)
    if not amount.is_finite() or amount <= 0:
        problems.add(field, "Must be greater than 0.")
    elif ceiling is not None and amount > ceiling:
        problems.add(
            field,
            f"{amount} {unit} in one administration is implausible "
            f"(more than {ceiling} {unit}); check the amount and unit.",
        )
    elif -amount.as_tuple().exponent > DOSE_DECIMAL_PLACES:  # type: ignore[operator]
        problems.add(field, f"At most {DOSE_DECIMAL_PLACES} decimal places.")


def _check_dose(dose: Dose, schedule: Schedule, problems: Problems) -> None:
    if dose.unit not in DOSE_UNIT_CEILINGS:
        problems.add("dose.unit", f"Unknown unit; use one of: {', '.join(DOSE_UNITS)}.")
    _check_amount(dose.amount, dose.unit, "dose.amount", problems)
    if schedule.amounts is None:
        return
    if schedule.as_needed:
        problems.add("schedule.amounts", "As-needed doses take the dose's amount.")
    elif len(schedule.amounts) != len(schedule.times):
        problems.add("schedule.amounts", "Give one amount for each time, in the same order.")
    for i, amount in enumerate(schedule.amounts):
        _check_amount(amount, dose.unit, f"schedule.amounts.{i}", problems)


def _check_schedule(s: Schedule, problems: Problems) -> None:
    if s.as_needed:
        if s.times:
            problems.add("schedule.times", "Must be empty for an as-needed schedule.")
        if s.max_doses_per_day is None:
            problems.add("schedule.max_doses_per_day", "Required for an as-needed schedule.")
        if s.days_of_week is not None or s.every_n_days != 1:
            problems.add("schedule.as_needed", "As-needed doses take no day pattern.")
    else:
        if not s.times:
            problems.add("schedule.times", "At least one time of day is required.")
        if s.max_doses_per_day is not None:
            problems.add("schedule.max_doses_per_day", "Only for as-needed schedules.")
        if s.min_hours_between is not None:
            problems.add("schedule.min_hours_between", "Only for as-needed schedules.")
    if len(s.times) > MAX_TIMES_PER_DAY:
        problems.add("schedule.times", f"At most {MAX_TIMES_PER_DAY} times a day.")
    if len(set(s.times)) != len(s.times):
        problems.add("schedule.times", "Times must not repeat.")
    if any(t.second or t.microsecond for t in s.times):
        problems.add("schedule.times", "Give times as HH:MM.")
    if not 1 <= s.every_n_days <= MAX_EVERY_N_DAYS:
        problems.add("schedule.every_n_days", f"Must be between 1 and {MAX_EVERY_N_DAYS}.")
    if s.days_of_week is not None:
        if not s.days_of_week:
            problems.add("schedule.days_of_week", "Give at least one day, or null for every day.")
        if any(d not in WEEKDAYS for d in s.days_of_week):
            problems.add("schedule.days_of_week", f"Use day names: {', '.join(WEEKDAYS)}.")
        if len(set(s.days_of_week)) != len(s.days_of_week):
            problems.add("schedule.days_of_week", "Days must not repeat.")
        if s.every_n_days != 1:
            problems.add("schedule.days_of_week", "Give either days_of_week or every_n_days.")
    if s.max_doses_per_day is not None and not 1 <= s.max_doses_per_day <= MAX_PRN_DOSES_PER_DAY:
        problems.add(
            "schedule.max_doses_per_day", f"Must be between 1 and {MAX_PRN_DOSES_PER_DAY}."
        )
    if s.min_hours_between is not None and not (
        Decimal(0) < s.min_hours_between <= MAX_PRN_INTERVAL_HOURS
    ):
        problems.add(
            "schedule.min_hours_between",
            f"Must be more than 0 and at most {MAX_PRN_INTERVAL_HOURS} hours.",
        )


def validate_terms(terms: PrescriptionTerms) -> PrescriptionTerms:
    """Return `terms` in canonical form (sorted times) or raise naming every bad field."""
    problems = Problems()
    if not terms.drug.strip():
        problems.add("drug", "Must not be blank.")
    if terms.route not in ROUTES:
        problems.add("route", f"Unknown route; use one of: {', '.join(ROUTES)}.")
    _check_dose(terms.dose, terms.schedule, problems)
    _check_schedule(terms.schedule, problems)
    if not EARLIEST_START <= terms.start_date <= LATEST_DATE:
        problems.add("start_date", f"Must be between {EARLIEST_START} and {LATEST_DATE}.")
    if terms.end_date is not None:
        if terms.end_date < terms.start_date:
            problems.add("end_date", "Must not be before start_date.")
        elif terms.end_date > LATEST_DATE:
            problems.add("end_date", f"Must not be after {LATEST_DATE}.")
    problems.raise_if_any()
    return replace(terms, drug=terms.drug.strip(), schedule=_in_time_order(terms.schedule))


def _in_time_order(s: Schedule) -> Schedule:
    """Times sorted, each amount kept with its time."""
    order = sorted(range(len(s.times)), key=lambda i: s.times[i])
    amounts = tuple(s.amounts[i] for i in order) if s.amounts is not None else None
    return replace(s, times=tuple(s.times[i] for i in order), amounts=amounts)


def revise(current: PrescriptionTerms, changes: Mapping[str, Any]) -> PrescriptionTerms:
    """New terms from `current` with `changes` applied, validated as a whole."""
    problems = Problems()
    for name in sorted(set(changes) - REVISABLE_FIELDS):
        problems.add(name, "This field cannot be changed.")
    if "dose" in changes and "schedule" not in changes and current.schedule.amounts is not None:
        problems.add(
            "dose.amount",
            "The schedule gives an amount at each time; send the schedule with its amounts.",
        )
    problems.raise_if_any()
    return validate_terms(replace(current, **dict(changes)))


class Change(enum.StrEnum):
    """What made a version, as the version and its audit entry record it; a status
    change records its `Action`."""

    CREATE = "create"
    REVISE = "revise"
    TAPER_STEP = "taper-step"
    TAPER_COMPLETE = "taper-complete"


class ScreeningScope(enum.StrEnum):
    """How much of the drug the checks could see: all of it, or for a drug the catalog
    does not list, only what its name revealed."""

    FULL = "full"
    PARTIAL = "partial"


# The terms an open taper plan sets step by step; a revision leaves them to the plan.
TAPER_HELD_FIELDS = frozenset({"dose", "schedule", "start_date", "end_date"})


def check_revisable(status: Status) -> None:
    """A discontinued prescription is final, like its transitions."""
    if status is Status.DISCONTINUED:
        raise TransitionError("A discontinued prescription cannot be changed; prescribe anew.")


def check_same_drug(current: PrescriptionTerms, changes: Mapping[str, Any]) -> None:
    """A revision keeps the drug (spelt in any case): a new drug is prescribed anew,
    so that its interactions are checked."""
    if changes.get("drug", current.drug).strip().casefold() != current.drug.casefold():
        raise DomainValidationError(
            {
                "drug": [
                    "Prescribe the new drug (its interactions are checked) and "
                    "discontinue this prescription instead."
                ]
            }
        )


def taper_held(changes: Mapping[str, Any]) -> list[str]:
    """The changed fields an open taper plan sets, in name order."""
    return sorted(TAPER_HELD_FIELDS & set(changes))


def check_resume_with_pause(action: Action, resume_on: dt.date | None) -> None:
    """Only a pause takes a date to resume."""
    if resume_on is not None and action is not Action.PAUSE:
        raise DomainValidationError({"resume_on": ["Only for a pause."]})


def check_resume_later(resume_on: dt.date | None, *, today: dt.date) -> None:
    """A pause resumes on a later day than `today` in the patient's time zone."""
    if resume_on is not None and resume_on <= today:
        raise DomainValidationError(
            {"resume_on": [f"Must be after today ({today}) in the patient's time zone."]}
        )


def resume_date(
    status: Status, *, given: dt.date | None, current: dt.date | None
) -> dt.date | None:
    """The resume date the next version records: the one given with a pause, or for
    any other change made during a pause, the date that pause already ends."""
    return given or (current if status is Status.PAUSED else None)
