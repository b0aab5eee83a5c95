"""Jinja filters the console's templates share: instants in a time zone, amounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask


def local(value: dt.datetime | None, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as wall-clock time in `tz` (UTC when none is given)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    zone = ZoneInfo(tz) if tz else dt.UTC
    return value.astimezone(zone).strftime(fmt)


def amount(value: Decimal | float | int | None) -> str:
    """A dose amount without trailing zeros: 2.50 -> 2.5, 10.0 -> 10."""
    if value is None:
        return ""
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def register(app: Flask) -> None:
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["amount"] = amount
