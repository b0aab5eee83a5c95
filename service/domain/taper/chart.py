"""A taper plan drawn as a standalone SVG chart.

`chart_svg` draws the daily dose over time as a step line: one element per step
(carrying `data-step` and the exact `data-dose-mg` string, with hover text), grey
shading behind the steps already completed, a dashed "today" line when today falls
within the plan, steps over the cut cap marked in red and cuts the measuring grid
forces (`grid_limited`) in orange. Both axes have a title, a legend names every mark
drawn, and once the plan is approved a line under the heading says who approved its
flagged steps and when (before that: how many still need approval).

The output is plain SVG: no scripts, no external references, no foreignObject; every
piece of text is XML-escaped and the same input always gives the same bytes. Doses
stay Decimals until they become a fraction of the chart's height; only the pixel
coordinates are floats, written with at most two decimals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from service.domain.taper.arith import text
from service.domain.taper.plan import Flag, Step, TaperPlan

WIDTH = 800
HEIGHT = 420
LEFT = 84.0
RIGHT = WIDTH - 40.0
TOP = 60.0
BOTTOM = HEIGHT - 90.0
# Below the plot: date labels, the x-axis title, then the legend.
X_LABELS_Y = BOTTOM + 18
X_TITLE_Y = BOTTOM + 40
LEGEND_Y = BOTTOM + 66
# Sans-serif at 11 px averages under this many pixels a character: legend entries are
# spaced by it, and a name longer than the heading's width is cut short.
CHAR_WIDTH = 6.5
MAX_NAME = 60

TITLE_ID = "taper-chart-title"
DESC_ID = "taper-chart-desc"

# The most gridlines (besides 0) and date labels drawn, whatever the plan's size.
Y_TICKS = 4
MAX_X_LABELS = 7
# Days between date labels, the smallest that keeps to MAX_X_LABELS is used.
X_INTERVALS = (1, 2, 7, 14, 28, 56, 91, 182, 364)
NICE_MANTISSAS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))

LINE_COLOUR = "#1f5f99"
AREA_COLOUR = "#dbe9f6"
FLAG_COLOUR = "#c0392b"
GRID_COLOUR_FLAG = "#d35400"
COMPLETED_COLOUR = "#e3e3e3"
TODAY_COLOUR = "#2e7d32"
GRID_COLOUR = "#cccccc"
TEXT_COLOUR = "#333333"

# Fixed precision, whatever the caller's context: the same plan, the same bytes.
_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)

# A cut above the cap only because the formulations cannot measure a smaller one;
# approved once with the plan (docs/clinical.md, "Taper planner"). Named by its
# serial value, which the planner's Flag carries.
FLAG_TEXT: dict[str, str] = {
    Flag.EXCEEDS_CAP.value: "needs clinician approval",
    Flag.JUMP_OFF.value: "final jump to the target",
    Flag.EXTENDED.value: "lengthened",
    Flag.GRID_LIMITED.value: (
        "the smallest cut the formulations can measure, approved with the plan"
    ),
    Flag.SHORT_STEP.value: "shorter than a week, approved with the plan",
    Flag.STEP_BACK.value: "back to the last dose tolerated",
}

Attr = str | int | float


@dataclass(frozen=True, kw_only=True)
class Approval:
    """Who approved the plan's flagged steps (the clinician's name) and on which
    date, in the patient's time zone."""

    by: str
    on: dt.date

    def words(self) -> str:
        name = self.by if len(self.by) <= MAX_NAME else self.by[: MAX_NAME - 1] + "\u2026"
        return f"approved by {name} on {self.on.isoformat()}"


@dataclass(frozen=True, kw_only=True)
class _Frame:
    """Maps dates and doses to pixels: dates from `first` over `span_days` days
    left to right, doses from 0 at the bottom to `top_mg` at the top."""

    first: dt.date
    span_days: int
    top_mg: Decimal

    def x(self, day: dt.date, fraction: float = 0.0) -> float:
        """The left edge of `day`, or `fraction` of the way through it."""
        days = (day - self.first).days + fraction
        return LEFT + days * (RIGHT - LEFT) / self.span_days

    def y(self, mg: Decimal) -> float:
        share = _CONTEXT.divide(mg, self.top_mg)
        return BOTTOM - float(share) * (BOTTOM - TOP)


def chart_svg(
    plan: TaperPlan | Mapping[str, Any],
    *,
    today: dt.date,
    completed_steps: int,
    title: str,
    approval: Approval | None = None,
) -> str:
    """The plan (typed, or in its serial form) as a standalone SVG document; steps
    with an index below `completed_steps` are shaded, `today` is marked when within
    the plan, and flagged steps say who approved them (`approval`, None while they
    await approval). A plan without steps, or an amount that is no dose, is a
    ValueError."""
    steps = (plan if isinstance(plan, TaperPlan) else TaperPlan.from_json(plan)).steps
    if not steps:
        raise ValueError("a plan has at least one step")
    last_day = steps[-1].end_date
    if last_day < steps[0].start_date:
        raise ValueError("the plan ends before it starts")
    top = max(s.daily_dose_mg for s in steps)
    frame = _Frame(
        first=steps[0].start_date,
        span_days=(last_day - steps[0].start_date).days + 1,
        top_mg=top if top > 0 else Decimal(1),
    )
    in_range = steps[0].start_date <= today <= last_day
    description = _description(steps, today, completed_steps, approval)
    body = [
        _tag("title", {"id": TITLE_ID}, _text(title)),
        _tag("desc", {"id": DESC_ID}, _text(description)),
        _tag("rect", {"width": WIDTH, "height": HEIGHT, "fill": "#ffffff"}),
        _tag("text", _heading_attrs(), _text(title)),
        _approval_line(steps, approval),
        _completed(frame, steps, completed_steps),
        _y_axis(frame),
        _x_axis(frame, last_day),
        _axis_titles(),
        _steps(frame, steps, approval),
        _today_marker(frame, today) if in_range else "",
        _legend(steps, approval, completed_steps, in_range),
    ]
    return _tag("svg", _root_attrs(), "\n" + "\n".join(p for p in body if p) + "\n") + "\n"


def _flagged(step: Step) -> bool:
    return Flag.EXCEEDS_CAP in step.flags


def _grid_limited(step: Step) -> bool:
    return Flag.GRID_LIMITED in step.flags


def _flagged_words(count: int, approval: Approval | None) -> str:
    """`2 steps need clinician approval.` or `2 steps over the cap, approved by ...`"""
    if approval is None:
        verb = "needs" if count == 1 else "need"
        return f"{_count(count, 'step')} {verb} clinician approval."
    return f"{_count(count, 'step')} over the cap, {approval.words()}."


# The parts of the chart.


def _root_attrs() -> dict[str, Attr]:
    return {
        "xmlns": "http://www.w3.org/2000/svg",
        "viewBox": f"0 0 {WIDTH} {HEIGHT}",
        "width": WIDTH,
        "height": HEIGHT,
        "role": "img",
        "aria-labelledby": TITLE_ID,
        "aria-describedby": DESC_ID,
        "font-family": "sans-serif",
        "font-size": 11,
        "fill": TEXT_COLOUR,
    }


def _heading_attrs() -> dict[str, Attr]:
    return {"class": "heading", "x": LEFT, "y": 22.0, "font-size": 14, "font-weight": "bold"}


def _completed(frame: _Frame, steps: Iterable[Step], completed_steps: int) -> str:
    """A grey band behind each completed step, the plot's full height."""
    rects = [
        _tag(
            "rect",
            {
                "class": "completed",
                "data-step": s.index,
                "x": frame.x(s.start_date),
                "y": TOP,
                "width": frame.x(s.end_date, 1.0) - frame.x(s.start_date),
                "height": BOTTOM - TOP,
                "fill": COMPLETED_COLOUR,
            },
        )
        for s in steps
        if s.index < completed_steps
    ]
    return _group("completed-steps", rects)


def _y_axis(frame: _Frame) -> str:
    """Horizontal gridlines at round doses, labelled in mg."""
    parts: list[str] = []
    for mg in _y_ticks(frame.top_mg):
        y = frame.y(mg)
        line: dict[str, Attr] = {"x1": LEFT, "x2": RIGHT, "y1": y, "y2": y, "stroke": GRID_COLOUR}
        parts.append(_tag("line", {"class": "grid", **line}))
        label: dict[str, Attr] = {"x": LEFT - 8, "y": y + 4, "text-anchor": "end"}
        parts.append(_tag("text", label, _text(f"{text(mg)} mg")))
    return _group("y-axis", parts)


def _y_ticks(top: Decimal) -> list[Decimal]:
    step = _nice_step(_CONTEXT.divide(top, Y_TICKS))
    count = int(_CONTEXT.divide_int(top, step))
    return [_CONTEXT.multiply(step, k) for k in range(count + 1)]


def _nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 times a power of ten at least `raw`."""
    exponent = raw.adjusted()
    mantissa = raw.scaleb(-exponent, _CONTEXT)
    nice = next(m for m in NICE_MANTISSAS if m >= mantissa)
    return nice.scaleb(exponent, _CONTEXT)


def _x_axis(frame: _Frame, last_day: dt.date) -> str:
    """The baseline with a handful of dated ticks."""
    baseline: dict[str, Attr] = {
        "x1": LEFT,
        "x2": RIGHT,
        "y1": BOTTOM,
        "y2": BOTTOM,
        "stroke": TEXT_COLOUR,
    }
    parts = [_tag("line", {"class": "baseline", **baseline})]
    for day in _x_ticks(frame.first, last_day):
        x = frame.x(day)
        parts.append(
            _tag("line", {"x1": x, "x2": x, "y1": BOTTOM, "y2": BOTTOM + 5, "stroke": TEXT_COLOUR})
        )
        label: dict[str, Attr] = {"x": x, "y": X_LABELS_Y, "text-anchor": "middle"}
        parts.append(_tag("text", label, _text(day.isoformat())))
    return _group("x-axis", parts)


def _x_ticks(first: dt.date, last: dt.date) -> list[dt.date]:
    """Dates from `first`, evenly spaced, up to `last` (a plan's own days only)."""
    offset = (last - first).days
    interval = _x_interval(offset)
    return [first + dt.timedelta(days=k * interval) for k in range(offset // interval + 1)]


def _x_interval(offset: int) -> int:
    """Days between date labels: the fewest that keeps to MAX_X_LABELS labels."""
    for interval in X_INTERVALS:
        if offset // interval < MAX_X_LABELS:
            return interval
    interval = X_INTERVALS[-1]
    while offset // interval >= MAX_X_LABELS:
        interval *= 2
    return interval


def _steps(frame: _Frame, steps: Sequence[Step], approval: Approval | None) -> str:
    previous: list[Step | None] = [None, *steps[:-1]]
    return _group(
        "steps", [_step(frame, s, p, approval) for s, p in zip(steps, previous, strict=True)]
    )


def _step_class(step: Step) -> str:
    names = ["step"]
    if _flagged(step):
        names.append("flagged")
    if _grid_limited(step):
        names.append("grid-limited")
    return " ".join(names)


def _step(frame: _Frame, step: Step, previous: Step | None, approval: Approval | None) -> str:
    """A step's shaded area and its piece of the line, dropping from the previous dose."""
    left, right = frame.x(step.start_date), frame.x(step.end_date, 1.0)
    y = frame.y(step.daily_dose_mg)
    from_y = y if previous is None else frame.y(previous.daily_dose_mg)
    colour = (
        FLAG_COLOUR if _flagged(step) else GRID_COLOUR_FLAG if _grid_limited(step) else LINE_COLOUR
    )
    area: dict[str, Attr] = {"x": left, "y": y, "width": right - left, "height": BOTTOM - y}
    line: dict[str, Attr] = {
        "d": f"M{_num(left)} {_num(from_y)}V{_num(y)}H{_num(right)}",
        "stroke": colour,
    }
    children = [
        _tag("title", {}, _text(_hover_text(step, approval))),
        _tag("rect", {"class": "dose-area", **area, "fill": AREA_COLOUR, "fill-opacity": 0.7}),
        _tag("path", {"class": "dose-line", **line, "stroke-width": 2, "fill": "none"}),
    ]
    if _flagged(step) or _grid_limited(step):
        marker: dict[str, Attr] = {"cx": (left + right) / 2, "cy": y, "r": 3.5, "fill": colour}
        children.append(_tag("circle", {"class": "flag-marker", **marker}))
    attrs: dict[str, Attr] = {
        "class": _step_class(step),
        "data-step": step.index,
        "data-dose-mg": text(step.daily_dose_mg),
        "data-start-date": step.start_date.isoformat(),
        "data-end-date": step.end_date.isoformat(),
    }
    return _tag("g", attrs, "".join(children))


def _hover_text(step: Step, approval: Approval | None) -> str:
    notes = [_flag_text(f.value, approval) for f in step.flags]
    suffix = f" ({'; '.join(notes)})" if notes else ""
    dates = f"{step.start_date.isoformat()} to {step.end_date.isoformat()}"
    return f"Step {step.index}: {text(step.daily_dose_mg)} mg/day, {dates}{suffix}"


def _flag_text(flag: str, approval: Approval | None) -> str:
    if flag == Flag.EXCEEDS_CAP.value and approval is not None:
        return f"over the cap, {approval.words()}"
    return FLAG_TEXT.get(flag, flag)


def _approval_line(steps: Sequence[Step], approval: Approval | None) -> str:
    """Under the heading: who approved the flagged steps and when, or how many
    await approval; nothing for a plan with no flagged step."""
    flagged = sum(1 for s in steps if _flagged(s))
    grid = sum(1 for s in steps if _grid_limited(s))
    parts = [_flagged_words(flagged, approval)] if flagged else []
    if grid:
        when = approval.words() if approval is not None else "to be approved with the plan"
        parts.append(f"{_count(grid, 'cut')} limited by the measuring grid, {when}.")
    if not parts:
        return ""
    attrs: dict[str, Attr] = {"class": "approval", "x": LEFT, "y": 40.0, "fill": FLAG_COLOUR}
    return _tag("text", attrs, _text(" ".join(parts)))


def _axis_titles() -> str:
    middle = (TOP + BOTTOM) / 2
    y_title: dict[str, Attr] = {
        "class": "axis-title y-title",
        "x": -middle,
        "y": 18.0,
        "transform": "rotate(-90)",
        "text-anchor": "middle",
        "font-weight": "bold",
    }
    x_title: dict[str, Attr] = {
        "class": "axis-title x-title",
        "x": (LEFT + RIGHT) / 2,
        "y": X_TITLE_Y,
        "text-anchor": "middle",
        "font-weight": "bold",
    }
    return "".join(
        [
            _tag("text", y_title, "Daily dose (mg)"),
            _tag("text", x_title, "Date (each step starts on the date shown)"),
        ]
    )


def _legend(
    steps: Sequence[Step], approval: Approval | None, completed_steps: int, today_shown: bool
) -> str:
    """One entry for each kind of mark the chart draws, left to right."""
    entries: list[tuple[str, str, str]] = [("line", LINE_COLOUR, "Daily dose")]
    if any(s.index < completed_steps for s in steps):
        entries.append(("band", COMPLETED_COLOUR, "Completed step"))
    if today_shown:
        entries.append(("dash", TODAY_COLOUR, "Today"))
    if any(_flagged(s) for s in steps):
        words = "Over the cap, approved" if approval is not None else "Over the cap, needs approval"
        entries.append(("dot", FLAG_COLOUR, words))
    if any(_grid_limited(s) for s in steps):
        entries.append(("dot", GRID_COLOUR_FLAG, "Grid-limited cut"))
    parts: list[str] = []
    x = LEFT
    for kind, colour, words in entries:
        parts.append(_swatch(kind, colour, x))
        label: dict[str, Attr] = {"x": x + 24, "y": LEGEND_Y + 4}
        parts.append(_tag("text", label, _text(words)))
        x += 24 + CHAR_WIDTH * len(words) + 18
    return _group("legend", parts)


def _swatch(kind: str, colour: str, x: float) -> str:
    y = LEGEND_Y
    if kind == "band":
        rect: dict[str, Attr] = {"x": x, "y": y - 6, "width": 18, "height": 12, "fill": colour}
        return _tag("rect", rect)
    if kind == "dot":
        return _tag("circle", {"cx": x + 9, "cy": y, "r": 3.5, "fill": colour})
    line: dict[str, Attr] = {"x1": x, "x2": x + 18, "y1": y, "y2": y, "stroke": colour}
    extra: dict[str, Attr] = {"stroke-width": 2}
    if kind == "dash":
        extra["stroke-dasharray"] = "4 3"
    return _tag("line", {**line, **extra})


def _today_marker(frame: _Frame, today: dt.date) -> str:
    """A dashed vertical line through the middle of today, labelled."""
    x = frame.x(today, 0.5)
    line: dict[str, Attr] = {"x1": x, "x2": x, "y1": TOP - 6, "y2": BOTTOM, "stroke": TODAY_COLOUR}
    label: dict[str, Attr] = {"x": x, "y": TOP - 9, "text-anchor": "middle", "fill": TODAY_COLOUR}
    return "".join(
        [
            _tag("line", {"class": "today", **line, "stroke-width": 2, "stroke-dasharray": "4 3"}),
            _tag("text", {"class": "today-label", **label}, "Today"),
        ]
    )


def _description(
    steps: Sequence[Step], today: dt.date, completed_steps: int, approval: Approval | None
) -> str:
    first, last = steps[0], steps[-1]
    done = sum(1 for s in steps if s.index < completed_steps)
    flagged = sum(1 for s in steps if _flagged(s))
    dates = f"{first.start_date.isoformat()} to {last.end_date.isoformat()}"
    sentences = [
        f"Dose taper from {text(first.daily_dose_mg)} mg/day to {text(last.daily_dose_mg)} mg/day "
        f"in {_count(len(steps), 'step')}, {dates}.",
        f"{done} of {_count(len(steps), 'step')} completed.",
        _today_sentence(steps, today),
    ]
    if flagged:
        sentences.append(_flagged_words(flagged, approval))
    grid = sum(1 for s in steps if _grid_limited(s))
    if grid:
        sentences.append(f"{_count(grid, 'cut')} limited by the measuring grid.")
    return " ".join(sentences)


def _today_sentence(steps: Sequence[Step], today: dt.date) -> str:
    when = f"Today, {today.isoformat()},"
    if today < steps[0].start_date:
        return f"{when} is before the plan starts; no today marker is shown."
    if today > steps[-1].end_date:
        return f"{when} is after the plan ends; no today marker is shown."
    current = next((s for s in steps if s.start_date <= today <= s.end_date), None)
    if current is None:
        return f"{when} is within the plan's dates."
    return f"{when} is in step {current.index} ({text(current.daily_dose_mg)} mg/day)."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# Markup.


def _group(name: str, children: Sequence[str]) -> str:
    return _tag("g", {"class": name}, "\n".join(children)) if children else ""


def _tag(name: str, attrs: Mapping[str, Attr], content: str | None = None) -> str:
    """An element; `content` is markup already escaped (see `_text`)."""
    rendered = "".join(f" {key}={quoteattr(_attr_text(value))}" for key, value in attrs.items())
    if content is None:
        return f"<{name}{rendered}/>"
    return f"<{name}{rendered}>{content}</{name}>"


def _attr_text(value: Attr) -> str:
    if isinstance(value, float):
        return _num(value)
    return _clean(str(value))


def _text(value: str) -> str:
    return escape(_clean(value))


def _clean(value: str) -> str:
    """`value` without the characters XML 1.0 cannot hold (control characters)."""
    return "".join(c for c in value if _xml_char(ord(c)))


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def _num(value: float) -> str:
    """A coordinate rounded to two decimals, without trailing zeros ("12.5", "40")."""
    out = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if out == "-0" else out
