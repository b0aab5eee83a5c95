"""How long each formulation lasts, along the plan's falling doses rather than at
today's (docs/clinical.md, "Supply and refills").

The forecast walks the local dates from today: today takes what is still to be taken
today, every later date what the plan (or the schedule) gives it. A formulation runs
out on the first date whose doses it cannot cover in full.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from service.domain.supply.use import Use

# How many changes of daily use a forecast lists: enough for a taper's next months.
MAX_CHANGES = 24
ZERO = Decimal(0)


@dataclass(frozen=True, kw_only=True)
class Change:
    """From `on`, the formulation's daily use is `daily_use`."""

    on: dt.date
    daily_use: Decimal


@dataclass(frozen=True, kw_only=True)
class Outlook:
    """One formulation's supply: on hand, today's use, when it runs out and, when the
    plan ends first, nothing short; otherwise by how much it falls short."""

    formulation: str
    on_hand: Decimal
    daily_use: Decimal
    runs_out_on: dt.date | None
    days_left: int | None
    plan_ends_on: dt.date | None
    runs_out_before_plan_ends: bool
    shortfall: Decimal
    changes: tuple[Change, ...]


def forecast(
    on_hand: Mapping[str, Decimal],
    *,
    today: dt.date,
    left_today: Use,
    use_on: Callable[[dt.date], Use],
    ends_on: dt.date | None,
    horizon_days: int,
    labels: Sequence[str],
) -> list[Outlook]:
    """The outlook of each of `labels` from `today`, walking at most `horizon_days`
    dates (to `ends_on` when the plan ends sooner). `ends_on` None: the terms do not
    end, and nothing falls short of an end."""
    last = today + dt.timedelta(days=horizon_days)
    if ends_on is not None:
        last = min(last, ends_on)
    stock = {k: on_hand.get(k, ZERO) for k in labels}
    out_on: dict[str, dt.date] = {}
    short = dict.fromkeys(labels, ZERO)
    changes: dict[str, list[Change]] = {k: [] for k in labels}
    today_use = use_on(today)
    before = dict(today_use)
    day = today
    while day <= last:
        need = left_today if day == today else use_on(day)
        for k in labels:
            wanted = need.get(k, ZERO)
            if day > today and wanted != before.get(k, ZERO) and len(changes[k]) < MAX_CHANGES:
                changes[k].append(Change(on=day, daily_use=wanted))
            if wanted > stock[k]:
                out_on.setdefault(k, day)
                short[k] += wanted - stock[k]
                stock[k] = ZERO
            else:
                stock[k] -= wanted
        before = dict(need) if day > today else dict(today_use)
        day += dt.timedelta(days=1)
    return [
        _outlook(
            k,
            on_hand.get(k, ZERO),
            today_use.get(k, ZERO),
            out_on.get(k),
            short[k],
            today=today,
            ends_on=ends_on,
            changes=tuple(changes[k]),
        )
        for k in labels
    ]


def _outlook(
    label: str,
    held: Decimal,
    use: Decimal,
    out_on: dt.date | None,
    short: Decimal,
    *,
    today: dt.date,
    ends_on: dt.date | None,
    changes: tuple[Change, ...],
) -> Outlook:
    before_end = out_on is not None and ends_on is not None and out_on <= ends_on
    return Outlook(
        formulation=label,
        on_hand=held,
        daily_use=use,
        runs_out_on=out_on,
        days_left=(out_on - today).days if out_on is not None else None,
        plan_ends_on=ends_on,
        runs_out_before_plan_ends=before_end,
        shortfall=short if before_end else ZERO,
        changes=changes,
    )


def refill_due(o: Outlook, *, threshold_days: int) -> bool:
    """Whether the formulation runs out within fewer than `threshold_days` days."""
    return o.days_left is not None and o.days_left < threshold_days
