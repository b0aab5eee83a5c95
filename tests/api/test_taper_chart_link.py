"""The taper chart over HTTP: who approved its flagged steps and when, a legend and
axis titles; and a short-lived signed link that fetches it with no Authorization
header, for this plan only, refused (403) once altered or expired."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from tests.api.test_taper_plans import STEEP, act, create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def parse(svg: bytes) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (the service's own output)


def texts(root: ET.Element, name: str) -> list[str]:
    return [
        "".join(e.itertext())
        for e in root.iter()
        if name in (e.get("class") or "").split() and e.tag == f"{SVG}text"
    ]


def chart(make: Builders, who: Account, plan: dict[str, Any]) -> ET.Element:
    r = make.client.get(f"/v1/taper-plans/{plan['id']}/chart.svg", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    return parse(r.get_data())


def link_for(make: Builders, who: Account, plan: dict[str, Any]) -> dict[str, Any]:
    r = make.client.post(f"/v1/taper-plans/{plan['id']}/chart-links", headers=who.headers)
    assert r.status_code == 201, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_the_chart_says_who_approved_the_flagged_steps_and_when(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx, algorithm=STEEP).get_json()
    draft = chart(make, doc, plan)
    assert texts(draft, "approval") == ["3 steps need clinician approval."]
    desc = draft.find(f"{SVG}desc")
    assert desc is not None
    assert "3 steps need clinician approval." in (desc.text or "")

    clock.advance(hours=2)
    act(make, doc, plan, "approve", approve_flagged=[2, 3, 4], reason="agreed")
    name = make.client.get("/v1/me", headers=doc.headers).get_json()["name"]
    root = chart(make, pat, plan)
    said = f"3 steps over the cap, approved by {name} on 2026-06-10."
    assert texts(root, "approval") == [said]
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert said in (desc.text or "")
    assert "need clinician approval" not in ET.tostring(root, encoding="unicode")
    flagged = [g for g in root.iter(f"{SVG}g") if "flagged" in (g.get("class") or "").split()]
    hover = flagged[0].find(f"{SVG}title")
    assert hover is not None
    assert f"over the cap, approved by {name} on 2026-06-10" in (hover.text or "")


def test_the_chart_has_axis_titles_and_a_legend(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx, algorithm=STEEP).get_json()
    root = chart(make, pat, plan)
    assert texts(root, "y-title") == ["Daily dose (mg)"]
    assert texts(root, "x-title")[0].startswith("Date")
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert len(legend) == 1
    entries = [t.text for t in legend[0].iter(f"{SVG}text")]
    assert entries == ["Daily dose", "Over the cap, needs approval"]


def test_a_signed_link_shows_the_chart_without_a_token_for_five_minutes(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    link = link_for(make, pat, plan)
    assert dt.datetime.fromisoformat(link["expires_at"]) == clock.now + dt.timedelta(minutes=5)
    assert link["url"].startswith(f"/v1/taper-plans/{plan['id']}/chart.svg?")
    r = make.client.get(path_of(link["url"]))
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "image/svg+xml"
    assert parse(r.get_data()).tag == f"{SVG}svg"

    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT subtype, actor_id, actor_role, after FROM audit_events "
                "WHERE entity_id = :id AND subtype LIKE 'taper.chart%' ORDER BY id"
            ),
            {"id": plan["id"]},
        ).all()
    assert [(r[0], r[2]) for r in rows] == [
        ("taper.chart-link", "patient"),
        ("taper.chart", "chart-link"),
    ]
    assert str(rows[0][1]).replace("-", "") == pat.id.hex
    link_id = parse_qs(urlsplit(link["url"]).query)["link"][0]
    assert all(link_id in str(r[3]) for r in rows), "the fetch is tied to the issue"

    clock.advance(minutes=5, seconds=1)
    expired = make.client.get(path_of(link["url"]))
    assert expired.status_code == 403, expired.get_json()
    assert "expired" in expired.get_json()["message"]


def _altered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    query = {k: v for k, v in query.items() if v != "-"}
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.parametrize(
    "changes",
    [
        {"sig": "0" * 64},
        {"sig": "zz"},
        {"sig": "é" * 64},
        {"link": "0" * 32},
        {"expires": "99999999999"},
        {"expires": "1"},
        {"sig": "-"},
        {"link": "-", "expires": "-"},
    ],
)
def test_an_altered_link_is_refused(
    make: Builders, clock: FrozenClock, changes: dict[str, str]
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    url = link_for(make, doc, plan)["url"]
    r = make.client.get(_altered(url, **changes))
    assert r.status_code == 403, r.get_json()
    assert "<svg" not in r.get_data(as_text=True)


def test_a_link_never_shows_another_plan(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    mine = create(make, doc, pat, rx).get_json()
    other_pat = make.patient(doc, timezone="Europe/London")
    other_rx = make.prescription(
        doc,
        other_pat,
        drug="diazepam",
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    theirs = create(make, doc, other_pat, other_rx).get_json()
    url = link_for(make, pat, mine)["url"]
    swapped = path_of(url).replace(mine["id"], theirs["id"])
    assert make.client.get(swapped).status_code == 403


def test_who_may_ask_for_a_link_and_what_bad_input_gets(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    stranger = make.clinician()
    url = f"/v1/taper-plans/{plan['id']}/chart-links"
    assert make.client.post(url, headers=stranger.headers).status_code == 404
    assert make.client.post(url).status_code == 401
    assert (
        make.client.post("/v1/taper-plans/nope/chart-links", headers=doc.headers).status_code == 404
    )
    bare = make.client.get(f"/v1/taper-plans/{plan['id']}/chart.svg")
    assert bare.status_code == 401, "no link and no token"
    assert bare.headers["WWW-Authenticate"].startswith("Bearer")
    bad = make.client.get(f"/v1/taper-plans/{plan['id']}/chart.svg?expires=soon&link=a&sig=b")
    assert bad.status_code == 422, bad.get_json()
    assert "query.expires" in bad.get_json()["errors"]
    assert make.client.get("/v1/taper-plans/not-a-uuid/chart.svg?expires=1").status_code == 404
