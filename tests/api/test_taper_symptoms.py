"""Withdrawal self-reports over HTTP (docs/clinical.md, "Taper planner"): items may be
left unrated, a red flag alerts the care team at once whatever the total, and every
response carries safety-net advice with its sources."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import text

from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from tests.api.test_taper_running import get_plan, report, running
from tests.conftest import Account, Builders, FrozenClock, settings_for

PLAN_SCALE = "ciwa-b-short"
RED_FLAGS = ["seizure", "disorientation", "hallucinations", "suicidal_thoughts"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


def messages(database: Database, kind: str) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT recipient_id, due_at, payload FROM notifications "
                "WHERE kind = :k ORDER BY id"
            ),
            {"k": kind},
        )
        return [
            {
                "recipient": str(r[0]).replace("-", ""),
                "due_at": r[1],
                "payload": r[2] if isinstance(r[2], dict) else json.loads(r[2]),
            }
            for r in rows
        ]


def audited(database: Database, plan: dict[str, Any]) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT after FROM audit_events WHERE entity_id = :id "
                "AND subtype = 'taper.symptom-report' ORDER BY id"
            ),
            {"id": str(plan["id"])},
        ).scalars()
        return [r if isinstance(r, dict) else json.loads(r) for r in rows]


def scale_of(make: Builders, who: Account, plan: dict[str, Any]) -> dict[str, Any]:
    r = make.client.get(f"/v1/taper-plans/{plan['id']}/symptom-reports", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def instant(value: Any) -> dt.datetime:
    """A stored UTC instant, as SQLite (text) or PostgreSQL (datetime) returns it."""
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def same_id(a: str, b: Any) -> bool:
    return a.replace("-", "") == str(b).replace("-", "")


def test_items_may_be_left_unrated_and_the_total_counts_the_rated_ones(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, _ = running(make, clock, database, kb, symptom_threshold=10)
    listing = scale_of(make, pat, plan)
    items = listing["scale"]["items"]
    assert [i["id"] for i in items if i["red_flag"]] == RED_FLAGS, "every scale ends with them"
    assert {i["max"] for i in items if i["red_flag"]} == {1}
    assert {i["max"] for i in items if not i["red_flag"]} == {4}
    assert listing["scale"]["max_total"] == 40, "red flags are not counted in the total"

    r = report(make, pat, plan, items={"anxiety": 4, "sleep": 3, "tremor": None}, total=7)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["total"], body["items"], body["hold_proposed"]) == (
        7,
        {"anxiety": 4, "sleep": 3},
        False,
    )
    assert body["unrated"] == [i["id"] for i in items if i["id"] not in ("anxiety", "sleep")]
    assert body["red_flags"] == []
    assert messages(database, "taper-symptoms-care-team") == []
    assert body["advice"]["urgent"] is False

    clock.advance(hours=2)
    r = report(make, pat, plan, items={"anxiety": 4, "sleep": 3, "tremor": 3})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["total"], r.get_json()["hold_proposed"]) == (10, True)
    (told,) = messages(database, "taper-symptoms-care-team")
    assert same_id(told["recipient"], doc.id)
    assert "unrated" in told["payload"]["body"], "the care team sees that items were left out"
    assert "care team has been told" in r.get_json()["advice"]["text"]

    reports = scale_of(make, doc, plan)["reports"]
    assert [len(x["unrated"]) for x in reports] == [len(items) - 3, len(items) - 2]


def test_a_red_flag_alerts_the_care_team_at_once_whatever_the_total(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan, _ = running(make, clock, database, kb)
    before = get_plan(make, doc, plan)
    assert report(make, pat, plan, items={"anxiety": 1, "seizure": 0}).status_code == 201
    assert messages(database, "taper-red-flag-care-team") == [], "a no is not a red flag"

    clock.advance(hours=1)
    r = report(make, pat, plan, items={"anxiety": 1, "hallucinations": 1}, note="seeing insects")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["total"], body["threshold"]) == (1, 12), "far below the threshold"
    assert body["red_flags"] == ["hallucinations"]
    assert body["hold_proposed"] is True

    (alert,) = messages(database, "taper-red-flag-care-team")
    assert same_id(alert["recipient"], doc.id)
    assert instant(alert["due_at"]) == clock.now, "due at once, not at the next review"
    assert "Seeing, hearing or feeling things that are not there" in alert["payload"]["body"]
    assert alert["payload"]["data"]["red_flags"] == ["hallucinations"]
    assert same_id(alert["payload"]["data"]["report_id"], body["id"])
    assert messages(database, "taper-symptoms-care-team") == [], "one message per report"

    (_, entry) = audited(database, plan)
    assert entry["red_flags"] == ["hallucinations"]
    assert entry["care_team_alert"] == "taper-red-flag-care-team"
    assert [same_id(a, doc.id) for a in entry["alerted"]] == [True]

    view = get_plan(make, doc, plan)
    assert view["hold_proposed"] is True
    assert (view["status"], view["version"]) == (before["status"], before["version"])
    rx_now = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}", headers=doc.headers
    ).get_json()
    assert rx_now["version"] == rx["version"], "a report never changes a dose"


def test_the_patient_gets_safety_net_advice_with_its_sources(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    _, pat, _, plan, _ = running(make, clock, database, kb)
    standing = scale_of(make, pat, plan)["advice"]
    assert standing["urgent"] is False
    assert "988" in standing["text"]
    assert "emergency services" in standing["text"]
    assert "do not restart, stop or change your dose" in standing["text"].lower()
    ids = [s["id"] for s in standing["sources"]]
    assert ids == [
        "fda-2020-benzodiazepine-boxed-warning",
        "asam-2025-benzodiazepine-tapering",
        "nice-ng215-2022",
        "samhsa-988-lifeline",
    ]
    assert all(s["citation"] and s["url"].startswith("https://") for s in standing["sources"])

    r = report(make, pat, plan, items={"suicidal_thoughts": 1, "seizure": 1})
    assert r.status_code == 201, r.get_json()
    advice = r.get_json()["advice"]
    assert advice["urgent"] is True
    assert advice["text"].startswith(
        "You reported: a seizure (fit); thoughts of suicide or of harming yourself."
    )
    assert "care team has been alerted" in advice["text"]
    assert "988" in advice["text"]
    assert [s["id"] for s in advice["sources"]] == ids
    assert r.get_json()["red_flags"] == ["seizure", "suicidal_thoughts"], "in scale order"


@pytest.mark.parametrize(
    ("items", "total", "field"),
    [
        ({"appetite": 1}, None, "items.appetite"),
        ({"tremor": 5}, None, "items.tremor"),
        ({"anxiety": 1, "seizure": 2}, None, "items.seizure"),
        ({"anxiety": 2, "hallucinations": 1}, 3, "total"),
        ({}, None, "items"),
        ({"anxiety": None, "sleep": None}, None, "items"),
        ({"bogus": None, "anxiety": 1}, None, "items.bogus"),
        ({"anxiety": -1}, None, "items.anxiety"),
        ({"anxiety": "2"}, None, "items.anxiety"),
        ({"anxiety": True}, None, "items.anxiety"),
    ],
)
def test_bad_items_or_ratings_are_refused_naming_the_field(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,
    items: dict[str, Any],
    total: int | None,
    field: str,
) -> None:
    _, pat, _, plan, _ = running(make, clock, database, kb)
    r = report(make, pat, plan, items=items, total=total)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert field in errors or any(k.startswith(f"{field}.") for k in errors), errors
    assert get_plan(make, pat, plan)["symptom_reports"] == []
    assert messages(database, "taper-red-flag-care-team") == []
