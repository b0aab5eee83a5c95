"""Adherence a clinician can file: the patient, the period, overall and per
prescription figures with early and late apart, the on-time window, and the CSV
exports (a row per prescription and an overall row, or a row per dose)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Table, update

from service.config import Settings
from service.db.tables import DoseEvent, User
from service.db.uow import Database
from tests.api.test_doses_api import at, doses, schedule
from tests.conftest import Account, Builders, FrozenClock, settings_for

WINDOW = {"from": "2026-06-10T00:00:00Z", "to": "2026-06-14T00:00:00Z"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the days these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def log(make: Builders, who: Account, dose_id: str, action: str, **body: Any) -> None:
    r = make.client.post(f"/v1/doses/{dose_id}/{action}", json=body, headers=who.headers)
    assert r.status_code == 200, r.get_json()


def logged(make: Builders, clock: FrozenClock) -> tuple[Account, Account, list[str]]:
    """A New York patient on escitalopram at 08:00 and 20:00 EDT (12:00Z and 00:00Z)
    from 06-10 and metformin at 20:00 EDT from 06-12; by 06-13 13:00Z every outcome
    is there, with doses taken at the on-time window's edges."""
    clock.now = at("2026-06-10T11:00:00Z")
    doc = make.clinician()
    pat = make.patient(doc, timezone="America/New_York", name="Ana Ruiz")
    make.prescription(doc, pat, schedule=schedule("08:00", "20:00"), start_date="2026-06-10")
    make.prescription(
        doc,
        pat,
        drug="metformin",
        dose={"amount": 500, "unit": "mg"},
        schedule=schedule("20:00"),
        start_date="2026-06-12",
    )
    doses(make, pat, pat, WINDOW["from"], WINDOW["to"])
    clock.now = at("2026-06-12T11:00:00Z")  # plans the rest of the window
    found = doses(make, pat, pat, WINDOW["from"], WINDOW["to"])
    escitalopram = [d["id"] for d in found if d["drug"] == "escitalopram"]
    (metformin,) = [d["id"] for d in found if d["drug"] == "metformin"]
    assert len(escitalopram) == 7
    clock.now = at("2026-06-13T13:00:00Z")
    e = escitalopram
    log(make, pat, e[0], "taken", taken_at="2026-06-10T05:00:00Z")  # seven hours early
    log(make, pat, e[1], "taken", taken_at="2026-06-11T01:00:00Z")  # the window after: on time
    log(make, pat, e[2], "taken", taken_at="2026-06-11T11:00:00Z")  # the window before: on time
    log(make, pat, e[3], "taken", taken_at="2026-06-12T01:00:01Z")  # a second past it: late
    log(make, pat, e[4], "skipped")
    # e[5] (06-13 00:00Z) is past the missed mark; e[6] (12:00Z) is still open.
    log(make, pat, metformin, "taken", taken_at="2026-06-13T00:30:00Z")
    return doc, pat, escitalopram


FIGURES = ("on_time", "early", "late", "skipped", "missed", "pending", "taken", "due")


def test_the_report_names_the_patient_the_period_the_window_and_early_apart_from_late(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, _ = logged(make, clock)
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence", query_string=WINDOW, headers=doc.headers
    )
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    assert report["patient"] == {"id": str(pat.patient_id), "name": "Ana Ruiz"}
    assert report["period"] == {
        "from": "2026-06-09T20:00:00-04:00",
        "to": "2026-06-13T20:00:00-04:00",
        "timezone": "America/New_York",
    }
    assert (report["from"], report["to"]) == (
        "2026-06-10T00:00:00+00:00",
        "2026-06-14T00:00:00+00:00",
    )
    assert report["on_time_window_minutes"] == 60
    rows = {row["drug"]: row for row in report["prescriptions"]}
    assert list(rows) == ["escitalopram", "metformin"]
    assert {k: rows["escitalopram"][k] for k in FIGURES} == {
        "on_time": 2,
        "early": 1,
        "late": 1,
        "skipped": 1,
        "missed": 1,
        "pending": 1,
        "taken": 4,
        "due": 6,
    }
    assert (rows["escitalopram"]["percentage"], rows["escitalopram"]["on_time_percentage"]) == (
        66.7,
        33.3,
    )
    assert (rows["metformin"]["on_time"], rows["metformin"]["percentage"]) == (1, 100.0)
    # Overall: 5 taken (3 on time) of 7 due; the open dose is in neither.
    overall = report["overall"]
    assert {k: overall[k] for k in FIGURES} == {
        "on_time": 3,
        "early": 1,
        "late": 1,
        "skipped": 1,
        "missed": 1,
        "pending": 1,
        "taken": 5,
        "due": 7,
    }
    assert (overall["percentage"], overall["on_time_percentage"]) == (71.4, 42.9)
    # The patient reads the same report of their own doses.
    mine = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence", query_string=WINDOW, headers=pat.headers
    )
    assert mine.get_json() == report


def table(make: Builders, who: Account, pat: Account, **query: str) -> list[dict[str, str]]:
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence.csv",
        query_string={**WINDOW, **query},
        headers=who.headers,
    )
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))


CONTEXT = {
    "patient_name": "Ana Ruiz",
    "period_from": "2026-06-09T20:00:00-04:00",
    "period_to": "2026-06-13T20:00:00-04:00",
    "timezone": "America/New_York",
    "on_time_window_minutes": "60",
}


def test_the_csv_carries_the_patient_and_period_on_every_row_and_an_overall_row(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, _ = logged(make, clock)
    rows = table(make, doc, pat)
    context = {**CONTEXT, "patient_id": str(pat.patient_id)}
    assert all({k: row[k] for k in context} == context for row in rows)
    assert [
        (r["scope"], r["drug"], r["early"], r["late"], r["due"], r["percentage"]) for r in rows
    ] == [
        ("prescription", "escitalopram", "1", "1", "6", "66.7"),
        ("prescription", "metformin", "0", "0", "1", "100.0"),
        ("overall", "", "1", "1", "7", "71.4"),
    ]
    assert (rows[-1]["prescription_id"], rows[-1]["on_time_percentage"]) == ("", "42.9")
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence.csv",
        query_string={**WINDOW, "detail": "everything"},
        headers=doc.headers,
    )
    assert r.status_code == 422, r.get_json()
    assert list(r.get_json()["errors"]) == ["query.detail"]


def test_the_per_dose_csv_has_a_row_for_each_dose_matching_the_counts(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, ids = logged(make, clock)
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence.csv",
        query_string={**WINDOW, "detail": "doses"},
        headers=doc.headers,
    )
    assert 'filename="adherence-doses-' in r.headers["Content-Disposition"]
    rows = table(make, doc, pat, detail="doses")
    assert all(row[k] == v for row in rows for k, v in CONTEXT.items())
    shown = [
        (
            r["drug"],
            r["scheduled_at"],
            r["local_time"],
            r["status"],
            r["outcome"],
            r["taken_at"],
            r["minutes_from_scheduled"],
        )
        for r in rows
    ]
    E = "escitalopram"
    assert shown == [
        (E, "2026-06-10T12:00:00+00:00", "2026-06-10T08:00:00-04:00", "taken", "early",
         "2026-06-10T05:00:00+00:00", "-420"),
        (E, "2026-06-11T00:00:00+00:00", "2026-06-10T20:00:00-04:00", "taken", "on_time",
         "2026-06-11T01:00:00+00:00", "60"),
        (E, "2026-06-11T12:00:00+00:00", "2026-06-11T08:00:00-04:00", "taken", "on_time",
         "2026-06-11T11:00:00+00:00", "-60"),
        (E, "2026-06-12T00:00:00+00:00", "2026-06-11T20:00:00-04:00", "taken", "late",
         "2026-06-12T01:00:01+00:00", "60"),
        (E, "2026-06-12T12:00:00+00:00", "2026-06-12T08:00:00-04:00", "skipped", "skipped", "", ""),
        (E, "2026-06-13T00:00:00+00:00", "2026-06-12T20:00:00-04:00", "missed", "missed", "", ""),
        ("metformin", "2026-06-13T00:00:00+00:00", "2026-06-12T20:00:00-04:00", "taken",
         "on_time", "2026-06-13T00:30:00+00:00", "30"),
        (E, "2026-06-13T12:00:00+00:00", "2026-06-13T08:00:00-04:00", "pending", "pending", "", ""),
    ]  # fmt: skip
    assert [r["dose_id"] for r in rows if r["drug"] == E] == ids[:7]
    assert {r["dose_amount"] + " " + r["dose_unit"] for r in rows} == {"10 mg", "500 mg"}
    # The rows are the doses the counts count.
    summary = {r["drug"] or "overall": r for r in table(make, doc, pat)}
    for drug in (E, "metformin", "overall"):
        counted = Counter(r["outcome"] for r in rows if drug in (r["drug"], "overall"))
        outcomes = ("on_time", "early", "late", "skipped", "missed", "pending")
        assert {o: str(counted[o]) for o in outcomes} == {o: summary[drug][o] for o in outcomes}


def test_text_from_users_cannot_start_a_formula_in_either_csv(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, _ = logged(make, clock)
    # Names and drugs as a user could have typed them into another system that fed ours.
    users: Table = User.__table__  # type: ignore[attr-defined]
    events: Table = DoseEvent.__table__  # type: ignore[attr-defined]
    with database.engine.begin() as conn:
        conn.execute(
            update(users)
            .where(users.c.id == pat.id)
            .values(name='=HYPERLINK("http://x.example","Ana")')
        )
        conn.execute(
            update(events)
            .where(events.c.drug == "metformin")
            .values(drug="@SUM(1+1)*cmd|' /C calc'!A0")
        )
        conn.execute(
            update(events)
            .where(events.c.drug == "escitalopram")
            .values(drug="+escitalopram", dose_unit="-mg")
        )
    summary = table(make, doc, pat)
    per_dose = table(make, doc, pat, detail="doses")
    assert {r["patient_name"] for r in summary + per_dose} == {
        '\'=HYPERLINK("http://x.example","Ana")'
    }
    assert [r["drug"] for r in summary] == ["'+escitalopram", "'@SUM(1+1)*cmd|' /C calc'!A0", ""]
    assert {r["drug"] for r in per_dose} == {"'+escitalopram", "'@SUM(1+1)*cmd|' /C calc'!A0"}
    assert {r["dose_unit"] for r in per_dose} == {"'-mg", "mg"}
    # Numbers the export writes itself keep their sign.
    assert per_dose[0]["minutes_from_scheduled"] == "-420"
