"""The chart's adherence picture, drawn on the server as SVG: one row of day cells per
prescription. Presentation attributes only (the Content Security Policy allows no
inline style); the figures are also given in words, in the picture's title and
label, and a legend names each colour."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

from markupsafe import Markup, escape

from service.usecases.adherence import AdherenceRow
from service.usecases.adherence_days import DayKind

CELL = 8  # width and height of a day, in user units
GAP = 1
LABEL_HEIGHT = 14

# Fills meet 3:1 against white (WCAG 2.1 non-text contrast), except "nothing due",
# which is the empty background of the row; the open day is an outline.
FILL: dict[DayKind, str] = {
    DayKind.ON_TIME: "#1d6b32",
    DayKind.LATE: "#b35900",
    DayKind.MISSED: "#a61b1b",
    DayKind.PENDING: "#ffffff",
    DayKind.NONE: "#e3e7ec",
}
STROKE: dict[DayKind, str] = {DayKind.PENDING: "#4a5360"}
WORDS: dict[DayKind, str] = {
    DayKind.ON_TIME: "all taken on time",
    DayKind.LATE: "all taken, some early or late",
    DayKind.MISSED: "some missed or skipped",
    DayKind.PENDING: "not logged yet",
    DayKind.NONE: "nothing due",
}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(drug: str, row: AdherenceRow | None, days: Sequence[DayKind]) -> str:
    """The picture in words: the adherence figures, then how many days of each kind."""
    if row is None or row.percentage is None:
        taken = "no settled doses"
    else:
        taken = f"{row.percentage} % of settled doses taken"
    counts = ""
    if row is not None:
        counts = (
            f" {row.on_time} on time, {row.early} early, {row.late} late, {row.skipped} skipped, "
            f"{row.missed} missed, {row.pending} not logged yet."
        )
    per_kind = Counter(days)
    kinds = ", ".join(f"{_plural(per_kind[k], 'day')} {WORDS[k]}" for k in DayKind if per_kind[k])
    return f"{drug}, last {_plural(len(days), 'day')}: {taken}.{counts} {kinds}."


def _cell(i: int, day: dt.date, kind: DayKind) -> str:
    stroke = STROKE.get(kind)
    inset = 0.5 if stroke else 0
    line = f' stroke="{stroke}" stroke-width="1"' if stroke else ""
    return (
        f'<rect class="day day-{kind.value}" x="{i * (CELL + GAP) + inset}" y="{inset}" '
        f'width="{CELL - 2 * inset}" height="{CELL * 2 - 2 * inset}" fill="{FILL[kind]}"{line}>'
        f"<title>{day.isoformat()}: {WORDS[kind]}</title></rect>"
    )


def adherence_strip(
    *, drug: str, dates: Sequence[dt.date], days: Sequence[DayKind], label: str
) -> Markup:
    """One prescription's days, oldest on the left, with the first and last dates
    written under the row."""
    width = len(days) * (CELL + GAP) - GAP
    height = CELL * 2 + LABEL_HEIGHT
    cells = "".join(
        _cell(i, day, kind) for i, (day, kind) in enumerate(zip(dates, days, strict=True))
    )
    text = escape(label)
    base = CELL * 2 + LABEL_HEIGHT - 3
    first, last = (dates[0].isoformat(), dates[-1].isoformat()) if dates else ("", "")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="adherence" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="{text}"><title>{text}</title>'
        f'<g class="days">{cells}</g>'
        f'<text x="0" y="{base}" font-size="10" fill="#4a5360">{first}</text>'
        f'<text x="{width}" y="{base}" font-size="10" fill="#4a5360" '
        f'text-anchor="end">{last}</text></svg>'
    )
    return Markup(svg)  # noqa: S704 - built above from escaped text and numbers
