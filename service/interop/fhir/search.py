"""Search parameters, read strictly: a parameter this server does not support, or a
value it cannot read, is refused with a 400 OperationOutcome naming it, rather than
ignored (an ignored filter would return more of a record than was asked for)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, request
from werkzeug.exceptions import BadRequest

from service.interop.fhir.responses import resource, searchset

# Parameters any search takes: the answer format, and paging.
COMMON = frozenset({"_format", "_count", "_offset"})
DEFAULT_COUNT = 100
MAX_COUNT = 1000
_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
_PREFIXED = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.+)$")
# The years a date parameter may name: enough for any record, and far from the
# calendar's ends, where a day more cannot be computed.
_YEARS = range(2000, 2101)
# How much of a caller's value an error quotes back.
_QUOTED = 64


def quoted(value: str) -> str:
    """A caller's value as an error quotes it: cut short, in repr form (so control and
    direction characters show as escapes, never as themselves)."""
    return repr(value if len(value) <= _QUOTED else value[:_QUOTED] + "…")


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
            raise refuse(
                name, f"Unsupported search parameter {quoted(name)}; supported: {supported}."
            )
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
        raise refuse(name, f"{name} must be a {resource_type} id, got {quoted(raw)}.") from exc


def token(name: str, allowed: Iterable[str]) -> str | None:
    """A token parameter (`status=active`) among `allowed`."""
    raw = single(name)
    if raw is None:
        return None
    choices = tuple(allowed)
    if raw not in choices:
        raise refuse(name, f"{name} must be one of {', '.join(choices)}, got {quoted(raw)}.")
    return raw


@dataclass(frozen=True)
class Window:
    """An instant window from date parameters; either end may be open. `start` is
    inclusive, `end` exclusive."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None


def _instant(name: str, text: str) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of a FHIR date or dateTime and the first instant after it
    (a date covers its day in UTC, a dateTime its second)."""
    try:
        if len(text) == 10:
            value = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
            span = dt.timedelta(days=1)
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            span = dt.timedelta(seconds=1)
    except ValueError as exc:
        message = f"{name} must be a date or a dateTime with a zone, got {quoted(text)}."
        raise refuse(name, message) from exc
    if value.tzinfo is None:
        raise refuse(name, f"{name} must carry a time zone (Z or an offset), got {quoted(text)}.")
    if value.year not in _YEARS:
        raise refuse(name, f"{name} must be in the years {_YEARS[0]} to {_YEARS[-1]}.")
    return value, value + span


def window(name: str) -> Window:
    """A date parameter, possibly repeated with prefixes (`ge2026-01-01&le2026-02-01`)."""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    for raw in request.args.getlist(name):
        match = _PREFIXED.match(raw)
        if match is None:
            raise refuse(name, f"Give {name} a date, such as ge2026-01-01.")
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
            raise refuse(
                name, f"{name} takes the prefixes eq, ge, gt, le and lt, got {quoted(raw)}."
            )
    return Window(start, end)


def paging() -> tuple[int, int]:
    """`_count` (1..MAX_COUNT, default DEFAULT_COUNT) and `_offset` as limit and offset."""

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = single(name)
        if raw is None:
            return default
        # ASCII digits only (int() would also read other scripts' digits), and few of
        # them: every bound here has fewer than ten.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
            raise refuse(
                name, f"{name} must be a whole number (at most 9 digits), got {quoted(raw)}."
            )
        value = int(raw)
        if not low <= value <= high:
            raise refuse(name, f"{name} must be between {low} and {high}, got {value}.")
        return value

    return number("_count", DEFAULT_COUNT, 1, MAX_COUNT), number("_offset", 0, 0, 1_000_000)


def page_links(offset: int, limit: int, total: int) -> list[tuple[str, str]]:
    """The searchset's `next` link, when a page follows this one (the same search,
    every parameter kept, at the next offset)."""
    if offset + limit >= total:
        return []
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in ("_offset", "_count")]
    pairs = [*kept, ("_count", str(limit)), ("_offset", str(offset + limit))]
    return [("next", f"{request.base_url}?{urlencode(pairs)}")]


Page = tuple[list[dict[str, Any]], int]


def every_page(read: Callable[[int, int], Page]) -> list[dict[str, Any]]:
    """Every resource a paged read gives, page after page (`read(limit, offset)`
    answers a page and the total), for $everything."""
    out: list[dict[str, Any]] = []
    while True:
        found, total = read(MAX_COUNT, len(out))
        out.extend(found)
        if not found or len(out) >= total:
            return out


def by_patient(read: Callable[[uuid.UUID, int, int], Page]) -> Response:
    """A search by `patient` alone, paged: `read(patient_id, limit, offset)` gives a
    page of resources and the total, answered as a searchset."""
    allow({"patient"})
    patient_id = reference_id("patient", "Patient")
    assert patient_id is not None
    limit, offset = paging()
    found, total = read(patient_id, limit, offset)
    return resource(searchset(found, total=total, links=page_links(offset, limit, total)))
