"""Search parameters, read strictly: a parameter this server does not support, or a
value it cannot read, is refused with a 400 OperationOutcome naming it, rather than
ignored (an ignored filter would return more of a record than was asked for)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from flask import request
from werkzeug.exceptions import BadRequest

# Parameters any search takes: the answer format, and paging.
COMMON = frozenset({"_format", "_count", "_offset"})
DEFAULT_COUNT = 100
MAX_COUNT = 1000
_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
_PREFIXED = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.+)$")


def refuse(name: str, message: str) -> BadRequest:
    """A 400 naming the parameter (`query.<name>`), as the JSON API names them."""
    error = BadRequest(description=message)
    setattr(error, "data", {"message": message, "messages": {"query": {name: [message]}}})  # noqa: B010
    return error


def allow(names: Iterable[str]) -> None:
    """Refuse any parameter outside `names` and the common ones; check the common ones."""
    allowed = COMMON | frozenset(names)
    for name in request.args:
        if name not in allowed:
            supported = ", ".join(sorted(allowed))
            raise refuse(name, f"Unsupported search parameter {name!r}; supported: {supported}.")
    fmt = request.args.get("_format")
    if fmt is not None and fmt not in _FORMATS:
        raise refuse("_format", "Only JSON is served: _format=json.")


def single(name: str) -> str | None:
    values = request.args.getlist(name)
    if len(values) > 1:
        raise refuse(name, f"Give {name} once.")
    return values[0] if values else None


def reference_id(name: str, resource_type: str, *, required: bool = True) -> uuid.UUID | None:
    """A reference parameter (`patient=<id>` or `patient=Patient/<id>`) as an id."""
    raw = single(name)
    if raw is None:
        if required:
            raise refuse(name, f"Give {name}=<id> (or {resource_type}/<id>).")
        return None
    text = raw.removeprefix(f"{resource_type}/")
    try:
        return uuid.UUID(text)
    except ValueError as exc:
        raise refuse(name, f"{name} must be a {resource_type} id, got {raw!r}.") from exc


def token(name: str, allowed: Iterable[str]) -> str | None:
    """A token parameter (`status=active`) among `allowed`."""
    raw = single(name)
    if raw is None:
        return None
    choices = tuple(allowed)
    if raw not in choices:
        raise refuse(name, f"{name} must be one of {', '.join(choices)}, got {raw!r}.")
    return raw


@dataclass(frozen=True)
class Window:
    """An instant window from date parameters; either end may be open. `start` is
    inclusive, `end` exclusive."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None


def _instant(name: str, text: str) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of a FHIR date or dateTime and the first instant after it
    (a date covers its day in UTC, a dateTime without seconds its minute)."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), dt.UTC)
            return start, start + dt.timedelta(days=1)
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise refuse(
            name, f"{name} must be a date or a dateTime with a zone, got {text!r}."
        ) from exc
    if value.tzinfo is None:
        raise refuse(name, f"{name} must carry a time zone (Z or an offset), got {text!r}.")
    return value, value + dt.timedelta(seconds=1)


def window(name: str) -> Window:
    """A date parameter, possibly repeated with prefixes (`ge2026-01-01&le2026-02-01`)."""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    for raw in request.args.getlist(name):
        match = _PREFIXED.match(raw)
        assert match is not None
        prefix, text = match.group(1) or "eq", match.group(2)
        first, after = _instant(name, text)
        if prefix == "ge":
            start = max(start or first, first)
        elif prefix == "gt":
            start = max(start or after, after)
        elif prefix == "le":
            end = min(end or after, after)
        elif prefix == "lt":
            end = min(end or first, first)
        elif prefix == "eq":
            start, end = max(start or first, first), min(end or after, after)
        else:
            raise refuse(name, f"{name} takes the prefixes eq, ge, gt, le and lt, got {raw!r}.")
    return Window(start, end)


def paging() -> tuple[int, int]:
    """`_count` (1..MAX_COUNT, default DEFAULT_COUNT) and `_offset` as limit and offset."""

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = single(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise refuse(name, f"{name} must be a whole number, got {raw!r}.") from exc
        if not low <= value <= high:
            raise refuse(name, f"{name} must be between {low} and {high}, got {value}.")
        return value

    return number("_count", DEFAULT_COUNT, 1, MAX_COUNT), number("_offset", 0, 0, 1_000_000)
