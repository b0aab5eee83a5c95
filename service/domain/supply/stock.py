"""What a patient has on hand of each formulation: dispenses add, a count resets,
and every taken dose draws down by its components (docs/clinical.md, "Supply and
refills").

A half tablet draws half a tablet: the other half stays on hand. On hand is never
below 0: a dose taken with nothing recorded on hand was taken from supply that was
not recorded, and the next dispense or count starts afresh.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.domain.errors import Problems
from service.domain.prescriptions import EARLIEST_START
from service.domain.supply.use import ML, TABLET
from service.domain.taper.formulations import Liquid, Tablet, TaperFormulation

# A tablet count may hold halves and quarters ("13.5 left"); a volume, hundredths of
# a mL. Ceilings catch typing slips: a year of four tablets a day is under 1,500.
TABLET_STEP = Decimal("0.25")
ML_PLACES = 2
MAX_TABLETS = Decimal(10_000)
MAX_ML = Decimal(20_000)


class EntryKind(enum.StrEnum):
    DISPENSED = "dispensed"
    COUNTED = "counted"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """A recorded dispense (adds) or count (resets), effective from `at`."""

    kind: EntryKind
    formulation: str
    quantity: Decimal
    at: dt.datetime
    # The entry's id, naming the supply it begins (see `ledger`).
    ref: str = ""
    # A count that found a refill's worth more than the estimate (`opens_supply`).
    opens: bool = False


@dataclass(frozen=True, kw_only=True)
class Draw:
    """What one taken dose took of one formulation, when it was taken."""

    formulation: str
    quantity: Decimal
    at: dt.datetime


def unit_of(f: TaperFormulation) -> str:
    """The unit supply of a formulation is counted in: tablets or mL."""
    return ML if isinstance(f, Liquid) else TABLET


@dataclass(frozen=True, kw_only=True)
class Stock:
    """On hand of each formulation with at least one entry, and the entry that began
    its current supply: the last dispense, or the last count that opened one (a refill
    recorded as a count). A new one begins a new shortfall."""

    held: dict[str, Decimal]
    began: dict[str, str]


def ledger(entries: Iterable[Entry], draws: Iterable[Draw]) -> Stock:
    """Walk the entries and the doses taken since the first of them. At one instant a
    draw comes before a count, and a count before a dispense: a count says what is
    left after the doses taken so far, and a dispense recorded with it adds to it."""
    events: list[tuple[dt.datetime, int, Entry | Draw]] = []
    for e in entries:
        events.append((e.at, 1 if e.kind is EntryKind.COUNTED else 2, e))
    events.extend((d.at, 0, d) for d in draws)
    events.sort(key=lambda e: (e[0], e[1]))
    held: dict[str, Decimal] = {}
    began: dict[str, str] = {}
    for _, _, x in events:
        label = x.formulation
        if isinstance(x, Draw):
            if label in held:
                held[label] = max(Decimal(0), held[label] - x.quantity)
            continue
        if x.kind is EntryKind.COUNTED:
            held[label] = x.quantity
        else:
            held[label] = held.get(label, Decimal(0)) + x.quantity
        if x.kind is EntryKind.DISPENSED or x.opens or label not in began:
            began[label] = x.ref
    return Stock(held=held, began=began)


def opens_supply(
    counted: Decimal, estimate: Decimal | None, *, daily_use: Decimal, threshold_days: int
) -> bool:
    """Whether a count is a refill recorded as a count: the first of a formulation, or
    more than the estimate by at least the refill threshold's days of use (by any
    amount when nothing is used). A recount a little above the estimate is not: it
    does not end a shortfall, and would only tell it again."""
    if estimate is None:
        return True
    margin = daily_use * threshold_days
    return counted - estimate >= margin if margin > 0 else counted > estimate


def on_hand(entries: Iterable[Entry], draws: Iterable[Draw]) -> dict[str, Decimal]:
    """On hand now of each formulation with at least one entry (see `ledger`)."""
    return ledger(entries, draws).held


def check_quantity(
    quantity: Decimal, f: TaperFormulation, problems: Problems, *, allow_zero: bool
) -> None:
    """A count of tablets in quarters, or a volume in hundredths of a mL, in range."""
    path = "quantity"
    if not quantity.is_finite() or quantity < 0 or (quantity == 0 and not allow_zero):
        problems.add(path, "Must be 0 or more." if allow_zero else "Must be greater than 0.")
        return
    if isinstance(f, Tablet):
        if quantity > MAX_TABLETS:
            problems.add(path, f"At most {MAX_TABLETS} tablets.")
        elif quantity % TABLET_STEP:
            problems.add(path, "Tablets are counted in whole, half or quarter tablets.")
        return
    if quantity > MAX_ML:
        problems.add(path, f"At most {MAX_ML} mL.")
    elif -quantity.as_tuple().exponent > ML_PLACES:  # type: ignore[operator]
        problems.add(path, f"At most {ML_PLACES} decimal places of a mL.")


def check_dispensed_on(day: dt.date, *, today: dt.date, problems: Problems) -> None:
    """A dispense happened on a past or present local date."""
    if day > today:
        problems.add("dispensed_on", "Must not be in the future.")
    elif day < EARLIEST_START:
        problems.add("dispensed_on", f"Must be on or after {EARLIEST_START.isoformat()}.")


def choose(
    label: str, choices: Sequence[TaperFormulation], drug: str, problems: Problems
) -> TaperFormulation | None:
    """The formulation named `label` among a prescription's, or a problem listing them."""
    for f in choices:
        if f.label == label:
            return f
    if choices:
        names = ", ".join(f.label for f in choices)
        problems.add("formulation", f"Not a formulation of {drug}: one of {names}.")
    else:
        problems.add(
            "formulation",
            f"medtrack counts the supply of tablets, capsules and oral liquids; the "
            f"catalog lists none for {drug}.",
        )
    return None
