"""Refill reminders as the scheduler's job queues them after supply recorded over
HTTP: due when a formulation lasts fewer days than the threshold (10 for a
withdrawal-risk drug, 7 otherwise, ReminderPolicy's defaults), told once per shortfall
to the patient (`refill-due`) and, for a withdrawal-risk drug, to each clinician on the
care team (`refill-due-care-team`); docs/clinical.md, "Refill reminders"."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import text

from schedules.app import Jobs
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.log import LogNotifier
from service.usecases.reminders import ReminderPolicy
from tests.api.test_supply import count, dispense, forecast, of, settings  # noqa: F401
from tests.api.test_taper_running import at_london, kb, running  # noqa: F401
from tests.conftest import Account, Builders, FrozenClock

TABLET = "tablet 5 mg"


def messages(database: Database) -> Counter[tuple[str, uuid.UUID]]:
    """The refill messages queued, by kind and recipient."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, recipient_id FROM notifications WHERE kind LIKE 'refill-due%'")
        )
        return Counter((r[0], uuid.UUID(str(r[1]))) for r in rows)


def payloads(database: Database) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT payload FROM notifications WHERE kind = 'refill-due' ORDER BY id")
        )
        return [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in rows]


def take_day(
    make: Builders, clock: FrozenClock, pat: Account, rx: dict[str, Any], day: str
) -> None:
    """Each dose of `day` logged as taken ten minutes after its time."""
    for hh_mm in ("08:10", "20:10"):
        clock.now = at_london(day, hh_mm)
        doses = make.client.get(
            f"/v1/patients/{pat.patient_id}/doses?from={day}&to={day}", headers=pat.headers
        ).get_json()
        due = [
            d
            for d in doses
            if d["prescription_id"] == rx["id"]
            and d["status"] in ("pending", "reminded")
            and dt.datetime.fromisoformat(d["scheduled_at"]) <= clock.now
        ]
        assert len(due) == 1, doses
        r = make.client.post(f"/v1/doses/{due[0]['id']}/taken", json={}, headers=pat.headers)
        assert r.status_code == 200, r.get_json()


def next_morning(clock: FrozenClock, jobs: Jobs, day: str) -> None:
    clock.now = at_london(day, "00:05")
    jobs.advance_tapers()
    jobs.materialise()
    jobs.refills()


def test_a_diazepam_taper_is_reminded_once_per_shortfall_patient_and_care_team(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    doc, pat, rx, plan, jobs = running(make, clock, database, kb)
    second = make.clinician()
    admin = make.admin()
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/care-team",
        json={"clinician_id": str(second.id)},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.get_json()
    assert plan["steps"][1]["start_date"] == "2026-06-29", "4 tablets a day, then 3"
    next_morning(clock, jobs, "2026-06-25")
    r = dispense(make, pat, pat, rx, formulation=TABLET, quantity=40, dispensed_on="2026-06-25")
    assert r.status_code == 201, r.get_json()
    # 40 tablets: June 25th-28th take 16, then 3 a day to July 6th; runs out July 7th.
    jobs.refills()
    assert messages(database) == Counter(), "12 days left"
    for day, tomorrow, left in (
        ("2026-06-25", "2026-06-26", 11),
        ("2026-06-26", "2026-06-27", 10),
    ):
        take_day(make, clock, pat, rx, day)
        next_morning(clock, jobs, tomorrow)
        assert of(forecast(make, pat, pat, rx), TABLET)["days_left"] == left
        assert messages(database) == Counter(), f"{left} days is not fewer than 10"

    take_day(make, clock, pat, rx, "2026-06-27")
    next_morning(clock, jobs, "2026-06-28")
    assert of(forecast(make, pat, pat, rx), TABLET)["days_left"] == 9
    once = Counter(
        {
            ("refill-due", pat.id): 1,
            ("refill-due-care-team", doc.id): 1,
            ("refill-due-care-team", second.id): 1,
        }
    )
    assert messages(database) == once
    (sent,) = payloads(database)
    assert sent["data"]["formulation"] == TABLET
    assert (sent["data"]["runs_out_on"], sent["data"]["threshold_days"]) == ("2026-07-07", 10)
    jobs.refills()
    assert messages(database) == once, "the same shortfall is told once"
    take_day(make, clock, pat, rx, "2026-06-28")
    next_morning(clock, jobs, "2026-06-29")
    assert messages(database) == once, "nor again the next day"

    # Ten more tablets: 34 at 3 a day last to July 9th (11 days); no reminder.
    assert dispense(make, doc, pat, rx, formulation=TABLET, quantity=10).status_code == 201
    jobs.refills()
    assert messages(database) == once
    for day, tomorrow in (("2026-06-29", "2026-06-30"), ("2026-06-30", "2026-07-01")):
        take_day(make, clock, pat, rx, day)
        next_morning(clock, jobs, tomorrow)
    assert of(forecast(make, pat, pat, rx), TABLET)["days_left"] == 9
    assert messages(database) == once + once, "a new shortfall after a new dispense"
    jobs.refills()
    assert messages(database) == once + once


def once_daily(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
    drug: str,
) -> tuple[Account, Account, dict[str, Any], Jobs]:
    """One 10 mg tablet at 08:00 London since June 1st; now June 10th, 00:05 there."""
    clock.now = at_london("2026-06-10", "00:05")
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug=drug,
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    jobs = Jobs(
        database=database, kb=kb, notifier=LogNotifier(), policy=ReminderPolicy(), clock=clock
    )
    jobs.materialise()
    return doc, pat, rx, jobs


def test_escitalopram_is_withdrawal_risk_atorvastatin_tells_only_the_patient_at_7_days(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,  # noqa: F811
) -> None:
    """Today's 08:00 tablet is still to take: n tablets last n days, from today."""
    doc, pat, rx, jobs = once_daily(make, clock, database, kb, "escitalopram")
    assert dispense(make, pat, pat, rx, formulation="tablet 10 mg", quantity=10).status_code == 201
    jobs.refills()
    assert of(forecast(make, pat, pat, rx), "tablet 10 mg")["days_left"] == 10
    assert messages(database) == Counter()
    assert count(make, pat, pat, rx, formulation="tablet 10 mg", quantity=9).status_code == 201
    jobs.refills()
    told = Counter({("refill-due", pat.id): 1, ("refill-due-care-team", doc.id): 1})
    assert messages(database) == told

    _, statin_pat, statin, jobs = once_daily(make, clock, database, kb, "atorvastatin")
    body = dispense(make, statin_pat, statin_pat, statin, formulation="tablet 10 mg", quantity=7)
    assert body.status_code == 201, body.get_json()
    jobs.refills()
    got = forecast(make, statin_pat, statin_pat, statin)
    assert got["refill_threshold_days"] == 7
    assert (of(got, "tablet 10 mg")["days_left"], of(got, "tablet 10 mg")["refill_due"]) == (
        7,
        False,
    )
    assert messages(database) == told
    r = count(make, statin_pat, statin_pat, statin, formulation="tablet 10 mg", quantity=6)
    assert r.status_code == 201, r.get_json()
    assert of(forecast(make, statin_pat, statin_pat, statin), "tablet 10 mg")["refill_due"] is True
    jobs.refills()
    jobs.refills()
    assert messages(database) == told + Counter({("refill-due", statin_pat.id): 1})
    assert payloads(database)[-1]["data"]["threshold_days"] == 7
