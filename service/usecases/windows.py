"""A period asked for by its bounds: instants with offsets, or plain dates read as
whole days where the patient lives.

A date as `start` means the start of that local day; a date as `end` means the end
of that local day (the next day's start, the end being exclusive), so `from=to=` one
date is that whole day. A day's start is its local midnight, or, where a daylight
saving change skips midnight, the first instant after it (as dose times are).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from service.domain.schedule import wall_time_instant
from service.usecases.errors import ValidationFailed

# A bound as the caller gives it.
Bound = dt.datetime | dt.date


def day_start(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return wall_time_instant(day, dt.time(0), zone)


def _instant(bound: Bound, zone: zoneinfo.ZoneInfo, *, end: bool) -> dt.datetime:
    if isinstance(bound, dt.datetime):
        return bound
    return day_start(bound + dt.timedelta(days=1) if end else bound, zone)


def _wall(at: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return at.astimezone(zone).replace(tzinfo=None)


def local_window(
    start: Bound, end: Bound, *, timezone: str, longest: dt.timedelta
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) as instants; refused when empty, naive or longer than `longest`.
    Errors are keyed by the bounds' names as clients send them, `from` and `to`."""
    if any(isinstance(b, dt.datetime) and b.utcoffset() is None for b in (start, end)):
        raise ValidationFailed(
            "Give instants with a UTC offset, or dates.",
            errors={"from": ["Include an offset, e.g. Z."], "to": ["Include an offset."]},
        )
    zone = zoneinfo.ZoneInfo(timezone)
    first, last = _instant(start, zone, end=False), _instant(end, zone, end=True)
    if last <= first:
        raise ValidationFailed("The window is empty.", errors={"to": ["Must be after from."]})
    # Measured on the local calendar, so that a month of whole days is a month even
    # when it gains an hour as the clocks go back.
    if _wall(last, zone) - _wall(first, zone) > longest:
        raise ValidationFailed(
            "The window is too long.",
            errors={"to": [f"At most {longest.days} days after from."]},
        )
    return first, last
