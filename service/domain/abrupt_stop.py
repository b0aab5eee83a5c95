"""The abrupt-stop guard: one rule for every change to a withdrawal-risk drug
(docs/clinical.md, "The abrupt-stop guard").

Without an approved taper plan, a change that stops the drug (an end date set or
brought forward, discontinuation, a pause with no date to resume, a switch to
as-needed use) or that cuts its average daily dose by more than one taper step's
cap needs an explicit reason from the clinician. Raising a dose is never stopped,
and a change made under an approved plan is the plan's to govern.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.domain.dosing import Amount
from service.domain.prescriptions import Action, PrescriptionTerms, Schedule, plain_amount
from service.domain.taper.settings import (
    CAP_WINDOW_DAYS,
    DEFAULT_INTERVAL_DAYS,
    DEFAULT_MAX_CUT_PCT,
)

HUNDRED = Decimal(100)
# Where the guard suggests a taper start: the usual start of the 2025 joint ASAM
# guideline (5-10 % every 2-4 weeks), at its upper end, under the 25 % cap.
SUGGESTED_PERCENT = Decimal(10)


class StopKind(enum.StrEnum):
    END_DATE = "end-date"
    START_DEFERRED = "start-deferred"
    DISCONTINUE = "discontinue"
    OPEN_PAUSE = "open-ended-pause"
    DOSE_CUT = "dose-cut"


@dataclass(frozen=True, kw_only=True)
class AbruptStop:
    """What the change does, in numbers a clinician can check."""

    kind: StopKind
    summary: str
    daily_before: Amount | None
    daily_after: Amount | None
    cut_pct: Decimal | None


def average_daily(terms: PrescriptionTerms) -> Amount:
    """The scheduled amount per day on average (as-needed use counts as none)."""
    s: Schedule = terms.schedule
    if s.as_needed:
        return Amount(value=Decimal(0), unit=terms.dose.unit)
    per_day = s.daily_total(terms.dose.amount)
    if s.days_of_week is not None:
        per_day = per_day * len(s.days_of_week) / 7
    else:
        per_day = per_day / s.every_n_days
    return Amount(value=per_day, unit=terms.dose.unit)


def _highest(before: PrescriptionTerms, recent: Sequence[PrescriptionTerms]) -> Amount:
    """The highest average daily dose among the current terms and those in force
    within the last cap window, in the current unit."""
    old = average_daily(before)
    values = [average_daily(t).expressed_in(old.unit) for t in recent]
    return Amount(value=max([old.value, *(v for v in values if v is not None)]), unit=old.unit)


def _cut(
    before: PrescriptionTerms,
    after: PrescriptionTerms,
    cap_pct: Decimal,
    recent: Sequence[PrescriptionTerms],
) -> AbruptStop | None:
    old, new = _highest(before, recent), average_daily(after)
    if old.value <= 0:
        return None
    value = new.expressed_in(old.unit)
    if value is None:
        return AbruptStop(
            kind=StopKind.DOSE_CUT,
            summary=(
                f"The dose changes from {old.unit} to {new.unit}, so the change cannot be "
                "shown not to cut it."
            ),
            daily_before=old,
            daily_after=new,
            cut_pct=None,
        )
    cut = (old.value - value) / old.value * HUNDRED
    if cut <= cap_pct:
        return None
    shown = Amount(value=value.quantize(Decimal("0.0001")), unit=old.unit)
    what = "as-needed use" if after.schedule.as_needed else f"{shown} a day on average"
    return AbruptStop(
        kind=StopKind.DOSE_CUT,
        summary=(
            f"The change cuts the dose from {_rounded(old)} a day (the most in the last "
            f"{CAP_WINDOW_DAYS} days) to {what}: a cut of "
            f"{cut.quantize(Decimal(1))} %, more than one taper step's {cap_pct} %."
        ),
        daily_before=old,
        daily_after=shown,
        cut_pct=cut.quantize(Decimal("0.1")),
    )


def _rounded(a: Amount) -> Amount:
    return Amount(value=plain_amount(a.value.quantize(Decimal("0.0001"))), unit=a.unit)


def revision_stop(
    before: PrescriptionTerms,
    after: PrescriptionTerms,
    *,
    today: dt.date,
    recent: Sequence[PrescriptionTerms] = (),
    cap_pct: Decimal = DEFAULT_MAX_CUT_PCT,
) -> AbruptStop | None:
    """How a change of terms stops the drug or cuts it too fast, or None. A cut is
    measured from the highest daily dose in force over the cap's window (`recent`:
    the terms of the versions within it), so that several small cuts cannot add up
    to more than one step's cap."""
    if before.start_date <= today < after.start_date:
        return AbruptStop(
            kind=StopKind.START_DEFERRED,
            summary=(
                f"Moving the start to {after.start_date} stops the drug until then, with no taper."
            ),
            daily_before=_rounded(average_daily(before)),
            daily_after=None,
            cut_pct=HUNDRED,
        )
    ends = after.end_date is not None and (
        before.end_date is None or after.end_date < before.end_date
    )
    if ends:
        return AbruptStop(
            kind=StopKind.END_DATE,
            summary=f"The change ends the prescription on {after.end_date}, with no taper.",
            daily_before=_rounded(average_daily(before)),
            daily_after=None,
            cut_pct=HUNDRED,
        )
    return _cut(before, after, cap_pct, recent)


def status_stop(terms: PrescriptionTerms, *, discontinue: bool) -> AbruptStop:
    """Discontinuing, or pausing with no date to resume, stops the drug at once."""
    if discontinue:
        kind, summary = StopKind.DISCONTINUE, "Discontinuing stops the drug at once."
    else:
        kind = StopKind.OPEN_PAUSE
        summary = "A pause with no resume_on date stops the drug for as long as it lasts."
    return AbruptStop(
        kind=kind,
        summary=summary,
        daily_before=_rounded(average_daily(terms)),
        daily_after=None,
        cut_pct=HUNDRED,
    )


def status_change_stop(
    terms: PrescriptionTerms, action: Action, *, resume_on: dt.date | None
) -> AbruptStop | None:
    """How a status change stops the drug (discontinuing, or pausing with no date to
    resume), or None when it does not."""
    if action is Action.DISCONTINUE or (action is Action.PAUSE and resume_on is None):
        return status_stop(terms, discontinue=action is Action.DISCONTINUE)
    return None


def cut_baseline(recent: Sequence[tuple[PrescriptionTerms, bool]]) -> list[PrescriptionTerms]:
    """The terms a cut is measured from, given those in force over the cap's window
    (oldest first, each with whether its change overrode the guard): from the last
    override on, since an overridden stop or cut set a new baseline with its reason."""
    last_override = max((i for i, (_, overrode) in enumerate(recent) if overrode), default=0)
    return [terms for terms, _ in recent[last_override:]]


def suggested_taper(terms: PrescriptionTerms, drug: str, start: dt.date) -> dict[str, object]:
    """A body for the taper preview that starts from the current dose on `start`, for the
    guard's answer (the clinician adjusts it before storing a plan)."""
    mg = average_daily(terms).expressed_in("mg")
    settings: dict[str, object] = {
        "drug": drug,
        # JSON numbers, as the preview takes them.
        "start_dose_mg": float(_rounded(Amount(value=mg, unit="mg")).value) if mg else None,
        "target_dose_mg": 0,
        "algorithm": {"kind": "percent", "percent": int(SUGGESTED_PERCENT)},
        "max_cut_pct": int(DEFAULT_MAX_CUT_PCT),
        "interval_days": DEFAULT_INTERVAL_DAYS,
        "start_date": start.isoformat(),
    }
    if terms.schedule.times:
        settings["times"] = [t.strftime("%H:%M") for t in terms.schedule.times]
    return settings
