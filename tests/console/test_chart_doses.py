"""The chart's doses: the week calendar coloured by status (early and late as
adherence counts them) and 90 days of adherence as SVG with the API's figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from service.usecases.followups import follow_up_missed
from service.usecases.reminders import ReminderPolicy
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.console.conftest import Console
from tests.console.test_chart import api, at, chart, section, start, words

SVG = "{http://www.w3.org/2000/svg}"
WEEK = [
    "Mon 08 Jun",
    "Tue 09 Jun",
    "Wed 10 Jun",
    "Thu 11 Jun",
    "Fri 12 Jun",
    "Sat 13 Jun",
    "Sun 14 Jun",
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the days these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def logged_week(make: Builders, clock: FrozenClock, doc: Account, pat: Account) -> list[str]:
    """Two doses a day from 06-10; by 06-12 13:00Z one taken on time, one late, one
    skipped, one missed (marked by the follow-up job's use case) and one open."""
    twice = {"times": ["08:00", "20:00"], "as_needed": False}
    make.prescription(doc, pat, schedule=twice, start_date="2026-06-10")
    found = api(
        make,
        pat,
        "GET",
        f"/v1/patients/{pat.patient_id}/doses",
        query_string={"from": "2026-06-10T00:00:00Z", "to": "2026-06-13T00:00:00Z"},
    )
    ids = [d["id"] for d in found]
    clock.now = at("2026-06-12T13:00:00Z")
    api(make, pat, "POST", f"/v1/doses/{ids[0]}/taken", json={"taken_at": "2026-06-10T12:10:00Z"})
    api(make, pat, "POST", f"/v1/doses/{ids[1]}/taken", json={"taken_at": "2026-06-11T03:00:00Z"})
    api(make, pat, "POST", f"/v1/doses/{ids[2]}/skipped", json={})
    return ids


def test_the_week_shows_each_dose_with_its_status(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = start(console, make, clock)
    ids = logged_week(make, clock, doc, pat)
    summary = follow_up_missed(uow=database.uow(), clock=clock, policy=ReminderPolicy())
    assert summary.missed == 1
    with database.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT status FROM dose_events ORDER BY scheduled_at")
        ).scalars()
        assert list(stored)[:4] == ["taken", "taken", "skipped", "missed"]
    # Two hours before its 08:00 EDT (12:00Z): more than the on-time window early. The
    # dose list plans it first (it was past the horizon when the week was logged).
    window = {"from": "2026-06-12T00:00:00Z", "to": "2026-06-13T00:00:00Z"}
    api(make, pat, "GET", f"/v1/patients/{pat.patient_id}/doses", query_string=window)
    api(make, pat, "POST", f"/v1/doses/{ids[4]}/taken", json={"taken_at": "2026-06-12T10:00:00Z"})
    week = section(chart(console, pat), "This week")
    day_at = re.compile(
        r"<h3>(\w{3} \d\d \w{3})[^<]*</h3>(.*?)</li>\s*(?=<li class=\"day|</ol>)", re.S
    )
    days = dict(day_at.findall(week))
    assert list(days) == WEEK

    def chips(day: str) -> list[tuple[str, str]]:
        chip = r'badge st-(\w+)">\1</span>\s*<span class="when">(\d\d:\d\d)'
        return re.findall(chip, days[day])

    assert chips("Wed 10 Jun") == [("taken", "08:00"), ("late", "20:00")]
    assert chips("Thu 11 Jun") == [("skipped", "08:00"), ("missed", "20:00")]
    assert chips("Fri 12 Jun") == [("early", "08:00"), ("pending", "20:00")]
    assert chips("Sun 14 Jun") == [("pending", "08:00"), ("pending", "20:00")]
    assert chips("Tue 09 Jun") == []
    assert '<li class="day today" aria-current="date">\n      <h3>Fri 12 Jun (today)' in week
    assert len(ids) == 5
    # Another week by ?week=, and the htmx fragment that swaps in the week alone.
    earlier = words(section(chart(console, pat, week="2026-06-03"), "This week"))
    assert "Week of Monday 01 June 2026" in earlier
    assert "taken" not in earlier
    r = console.client.get(
        f"/console/patients/{pat.patient_id}",
        query_string={"week": "2026-06-15"},
        headers={"HX-Request": "true", "HX-Target": "week"},
    )
    assert r.status_code == 200
    fragment = r.get_data(as_text=True)
    assert '<div id="week"' in fragment
    assert "<html" not in fragment
    assert "<h2" not in fragment
    assert "Week of Monday 15 June 2026" in words(fragment)
    assert "not-a-date" not in chart(console, pat, week="not-a-date")


def test_adherence_is_an_svg_of_90_days_with_the_api_figures(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = start(console, make, clock)
    logged_week(make, clock, doc, pat)
    make.prescription(
        doc,
        pat,
        drug="metformin",
        dose={"amount": 500, "unit": "mg"},
        schedule={"times": ["20:00"], "as_needed": False},
        start_date="2026-06-12",
    )
    part = section(chart(console, pat), "Adherence, last 90 days")
    assert "From 2026-03-15 to 2026-06-12" in part
    assert "style=" not in part
    # The pictures are the console's own output, parsed to check they are well-formed.
    drawn = re.findall(r"<svg xmlns.*?</svg>", part, re.S)
    pictures = [ET.fromstring(s) for s in drawn]  # noqa: S314
    assert len(pictures) == 2
    # New York on 2026-06-12: 90 local days from 2026-03-15, midnight EDT.
    window = {"from": "2026-03-15T04:00:00Z", "to": "2026-06-13T04:00:00Z"}
    rows = api(make, doc, "GET", f"/v1/patients/{pat.patient_id}/adherence", query_string=window)
    by_drug = {r["drug"]: r for r in rows["prescriptions"]}
    assert sorted(by_drug) == ["escitalopram", "metformin"]
    for picture in pictures:
        assert picture.get("role") == "img"
        cells = picture.findall(f"{SVG}g/{SVG}rect")
        assert len(cells) == 90
        assert all(c.get("class", "").startswith("day day-") for c in cells)
        label = picture.get("aria-label", "")
        assert picture.findtext(f"{SVG}title") == label
        row = by_drug[label.split(",")[0]]
        taken = (
            "no settled doses"
            if row["percentage"] is None
            else f"{row['percentage']} % of settled doses taken"
        )
        assert taken in label
        assert (
            f"{row['on_time']} on time, {row['early']} early, {row['late']} late, "
            f"{row['skipped']} skipped, "
            f"{row['missed']} missed, {row['pending']} not logged yet." in label
        )
    escitalopram = next(p for p in pictures if p.get("aria-label", "").startswith("escitalopram"))
    titles = [c.findtext(f"{SVG}title") for c in escitalopram.findall(f"{SVG}g/{SVG}rect")]
    assert titles[0] == "2026-03-15: nothing due"
    assert titles[-3:] == [
        "2026-06-10: all taken, some early or late",
        "2026-06-11: some missed or skipped",
        "2026-06-12: not logged yet",
    ]
    assert by_drug["escitalopram"]["percentage"] == 50.0
    assert "50.0 % of settled doses taken" in part
    assert '<td class="percentage">50.0 %</td>' in part
    # The legend gives every colour in words.
    legend = re.search(r'<ul class="plain legend".*?</ul>', part, re.S)
    assert legend
    assert words(legend.group(0)) == (
        "all taken on time all taken, some early or late some missed or skipped not logged yet"
        " nothing due"
    )
