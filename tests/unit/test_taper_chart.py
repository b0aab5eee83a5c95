"""The taper chart: an SVG of a plan's serial form, checked by parsing it back."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest

from service.domain.taper.chart import Approval, chart_svg

NS = {"svg": "http://www.w3.org/2000/svg"}
SVG = "{http://www.w3.org/2000/svg}"
START = dt.date(2026, 1, 1)
DOSES = ["20", "18", "16", "14", "12.5", "10", "7.5", "5", "2.5", "0"]


def make_plan(
    doses: list[str],
    *,
    days: int = 14,
    start: dt.date = START,
    flagged: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """A plan in serial form: contiguous steps of `days` days each."""
    steps = []
    for index, dose in enumerate(doses):
        begin = start + dt.timedelta(days=index * days)
        flags = ["exceeds_cap_needs_approval", "extended"] if index in flagged else []
        steps.append(
            {
                "index": index,
                "start_date": begin.isoformat(),
                "end_date": (begin + dt.timedelta(days=days - 1)).isoformat(),
                "days": days,
                "daily_dose_mg": dose,
                "cut_pct": "0",
                "flags": flags,
                "administrations": [],
            }
        )
    return {"steps": steps, "total_days": days * len(doses), "warnings": []}


def render(
    plan: dict[str, Any],
    *,
    today: dt.date = START,
    completed_steps: int = 0,
    title: str = "Diazepam taper",
) -> str:
    return chart_svg(plan, today=today, completed_steps=completed_steps, title=title)


def parse(svg: str) -> ET.Element:
    # The chart's own output, made in this test: not untrusted input.
    return ET.fromstring(svg)  # noqa: S314


def with_class(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if name in e.get("class", "").split()]


def steps_of(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("data-step") is not None and e.tag == f"{SVG}g"]


def area_of(step: ET.Element) -> ET.Element:
    area = step.find("svg:rect", NS)
    assert area is not None
    return area


def edges(step: ET.Element) -> tuple[float, float]:
    area = area_of(step)
    left = float(area.get("x", "nan"))
    return left, left + float(area.get("width", "nan"))


def test_root_is_an_accessible_standalone_svg() -> None:
    root = parse(render(make_plan(DOSES)))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    title = root.find(f"svg:title[@id='{root.get('aria-labelledby')}']", NS)
    assert title is not None
    assert title.text == "Diazepam taper"
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert desc.text is not None
    for part in ("20 mg/day", "0 mg/day", "10 steps", "2026-01-01", "2026-05-20"):
        assert part in desc.text


def test_one_element_per_step_with_exact_dose_and_hover_text() -> None:
    root = parse(render(make_plan(DOSES)))
    steps = steps_of(root)
    assert [s.get("data-step") for s in steps] == [str(i) for i in range(len(DOSES))]
    assert [s.get("data-dose-mg") for s in steps] == DOSES
    hover = steps[4].find("svg:title", NS)
    assert hover is not None
    assert hover.text == "Step 4: 12.5 mg/day, 2026-02-26 to 2026-03-11"


def test_steps_go_down_and_touch_one_another() -> None:
    root = parse(render(make_plan(DOSES)))
    steps = steps_of(root)
    spans = [edges(s) for s in steps]
    for (_, right), (left, _) in itertools.pairwise(spans):
        assert right == pytest.approx(left, abs=0.01)
    tops = [float(area_of(s).get("y", "nan")) for s in steps]
    assert tops == sorted(tops)
    assert len(set(tops)) == len(tops)


@pytest.mark.parametrize(("completed", "shaded"), [(0, 0), (3, 3), (10, 10), (25, 10), (-2, 0)])
def test_completed_steps_are_shaded(completed: int, shaded: int) -> None:
    root = parse(render(make_plan(DOSES), completed_steps=completed))
    rects = with_class(root, "completed")
    assert len(rects) == shaded
    assert all(r.tag == f"{SVG}rect" for r in rects)
    assert [r.get("data-step") for r in rects] == [str(i) for i in range(shaded)]


@pytest.mark.parametrize(
    ("today", "index"),
    [
        (dt.date(2026, 1, 1), 0),
        (dt.date(2026, 1, 14), 0),
        (dt.date(2026, 1, 15), 1),
        (dt.date(2026, 2, 13), 3),
        (dt.date(2026, 5, 20), 9),
    ],
)
def test_today_marker_sits_within_todays_step(today: dt.date, index: int) -> None:
    root = parse(render(make_plan(DOSES), today=today))
    (marker,) = with_class(root, "today")
    assert marker.tag == f"{SVG}line"
    x = float(marker.get("x1", "nan"))
    assert marker.get("x2") == marker.get("x1")
    left, right = edges(steps_of(root)[index])
    assert left < x < right
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert f"in step {index}" in (desc.text or "")


@pytest.mark.parametrize(
    ("today", "where"),
    [(dt.date(2025, 12, 31), "before the plan starts"), (dt.date(2026, 5, 21), "after the plan")],
)
def test_no_today_marker_outside_the_plan(today: dt.date, where: str) -> None:
    root = parse(render(make_plan(DOSES), today=today))
    assert with_class(root, "today") == []
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert where in (desc.text or "")
    assert "no today marker" in (desc.text or "")


def test_title_is_escaped() -> None:
    title = "A <b> & 'c' \"d\""
    svg = render(make_plan(DOSES), title=title)
    assert "<b>" not in svg
    root = parse(svg)
    found = root.find("svg:title", NS)
    assert found is not None
    assert found.text == title
    assert root.find(".//svg:b", NS) is None


def test_control_characters_in_the_title_are_dropped() -> None:
    root = parse(render(make_plan(DOSES), title="bad\x00\x1b title"))
    found = root.find("svg:title", NS)
    assert found is not None
    assert found.text == "bad title"


def test_output_is_deterministic() -> None:
    plan = make_plan(DOSES, flagged=frozenset({1}))
    first = render(plan, today=dt.date(2026, 2, 1), completed_steps=2)
    again = render(
        make_plan(DOSES, flagged=frozenset({1})), today=dt.date(2026, 2, 1), completed_steps=2
    )
    assert first == again


def test_no_scripts_or_external_references() -> None:
    svg = render(make_plan(DOSES, flagged=frozenset({2})), today=dt.date(2026, 3, 1))
    tags = {e.tag.removeprefix(SVG) for e in parse(svg).iter()}
    assert not tags & {"script", "foreignObject", "image", "use", "a", "style"}
    assert "href" not in svg
    assert "url(" not in svg
    assert "javascript" not in svg.lower()


def test_flagged_step_is_marked() -> None:
    root = parse(render(make_plan(DOSES, flagged=frozenset({1, 4}))))
    flagged = with_class(root, "flagged")
    assert [e.get("data-step") for e in flagged] == ["1", "4"]
    hover = flagged[0].find("svg:title", NS)
    assert hover is not None
    assert "needs clinician approval" in (hover.text or "")
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert "2 steps need clinician approval" in (desc.text or "")


def test_plan_ending_at_zero() -> None:
    root = parse(render(make_plan(["5", "2.5", "0"])))
    last = steps_of(root)[-1]
    assert last.get("data-dose-mg") == "0"
    assert float(area_of(last).get("height", "nan")) == 0


def test_single_step_plan() -> None:
    plan = make_plan(["10"], days=1)
    root = parse(render(plan, today=START, completed_steps=1))
    assert len(steps_of(root)) == 1
    assert len(with_class(root, "completed")) == 1
    assert len(with_class(root, "today")) == 1
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert "1 step," in (desc.text or "")


def test_single_step_at_zero_renders() -> None:
    root = parse(render(make_plan(["0"])))
    assert [s.get("data-dose-mg") for s in steps_of(root)] == ["0"]


def test_500_steps_render_with_few_labels() -> None:
    doses = [str(Decimal(500 - i) / 4) for i in range(500)]
    plan = make_plan(doses, days=7, flagged=frozenset({100, 200}))
    svg = render(plan, today=START + dt.timedelta(days=1000), completed_steps=140)
    root = parse(svg)
    assert len(steps_of(root)) == 500
    assert len(with_class(root, "completed")) == 140
    dates = [t for t in root.iter(f"{SVG}text") if (t.text or "").startswith("20")]
    assert 2 <= len(dates) <= 8
    assert len(svg) < 500 * 1000


def test_output_grows_linearly_with_steps() -> None:
    small = len(render(make_plan([str(200 - i) for i in range(100)])))
    large = len(render(make_plan([str(400 - i) for i in range(200)])))
    assert large < 2.2 * small


@pytest.mark.parametrize(
    ("doses", "labels"),
    [
        (["20", "10"], ["0 mg", "5 mg", "10 mg", "15 mg", "20 mg"]),
        (["7.5", "5"], ["0 mg", "2 mg", "4 mg", "6 mg"]),
        (["0.25", "0.125"], ["0 mg", "0.1 mg", "0.2 mg"]),
        (["10", "5"], ["0 mg", "2.5 mg", "5 mg", "7.5 mg", "10 mg"]),
        (["0.3", "0.1"], ["0 mg", "0.1 mg", "0.2 mg", "0.3 mg"]),
    ],
)
def test_y_labels_are_round_doses(doses: list[str], labels: list[str]) -> None:
    root = parse(render(make_plan(doses)))
    found = [t.text for t in root.iter(f"{SVG}text") if (t.text or "").endswith(" mg")]
    assert found == labels


def test_coordinates_have_at_most_two_decimals() -> None:
    svg = render(make_plan([str(Decimal(97 - i) / 3)[:6] for i in range(97)], days=3))
    root = parse(svg)
    for element in root.iter():
        for key in ("x", "y", "width", "height", "x1", "x2", "y1", "y2", "cx", "cy"):
            value = element.get(key)
            if value is not None:
                assert len(value.partition(".")[2]) <= 2, (key, value)


def test_an_empty_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        render({"steps": [], "total_days": 0, "warnings": []})


def test_a_dose_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ValueError, match="not a dose"):
        render(make_plan(["ten"]))


def legend_of(root: ET.Element) -> list[str]:
    (legend,) = with_class(root, "legend")
    return [t.text or "" for t in legend.iter(f"{SVG}text")]


def test_axes_have_titles_and_the_legend_names_what_is_drawn() -> None:
    root = parse(render(make_plan(DOSES), today=dt.date(2026, 2, 1), completed_steps=2))
    assert [t.text for t in with_class(root, "y-title")] == ["Daily dose (mg)"]
    assert len(with_class(root, "x-title")) == 1
    assert legend_of(root) == ["Daily dose", "Completed step", "Today"]
    assert legend_of(parse(render(make_plan(DOSES)))) == ["Daily dose", "Today"]


def test_an_approved_chart_says_who_approved_and_when() -> None:
    approval = Approval(by="Dr A. Lee", on=dt.date(2025, 12, 20))
    svg = chart_svg(
        make_plan(DOSES, flagged=frozenset({1, 4})),
        today=START,
        completed_steps=0,
        title="Diazepam taper",
        approval=approval,
    )
    root = parse(svg)
    said = "2 steps over the cap, approved by Dr A. Lee on 2025-12-20."
    assert [t.text for t in with_class(root, "approval")] == [said]
    desc = root.find("svg:desc", NS)
    assert desc is not None
    assert said in (desc.text or "")
    assert "need clinician approval" not in svg
    hover = with_class(root, "flagged")[0].find("svg:title", NS)
    assert hover is not None
    assert "over the cap, approved by Dr A. Lee on 2025-12-20" in (hover.text or "")
    assert "Over the cap, approved" in legend_of(root)


def test_a_long_name_is_cut_short_and_escaped() -> None:
    approval = Approval(by="<b>" + "x" * 200, on=dt.date(2025, 12, 20))
    svg = chart_svg(
        make_plan(DOSES, flagged=frozenset({1})),
        today=START,
        completed_steps=0,
        title="t",
        approval=approval,
    )
    root = parse(svg)
    assert root.find(".//svg:b", NS) is None
    (line,) = with_class(root, "approval")
    assert "x" * 100 not in (line.text or "")
    assert "\u2026" in (line.text or "")


def test_grid_limited_cuts_are_marked_apart_from_cap_flags() -> None:
    plan = make_plan(["10", "7.5", "5", "2.5", "0"])
    plan["steps"][4]["flags"] = ["grid_limited"]
    root = parse(render(plan))
    (step,) = with_class(root, "grid-limited")
    assert step.get("data-step") == "4"
    assert with_class(root, "flagged") == []
    assert "Grid-limited cut" in legend_of(root)
    (line,) = with_class(root, "approval")
    assert line.text == "1 cut limited by the measuring grid, to be approved with the plan."
