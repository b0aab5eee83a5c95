"""A refill reminder is queued and sent once per shortfall, with two schedulers at work
on one PostgreSQL database (docs/clinical.md, "Refill reminders").

A diazepam patient tapers from 20 mg a day in 5 mg tablets; forty tablets are
dispensed while the plan still gives four a day. That is ten days at today's dose, but
the next step lowers it, so the forecast says eleven: no refill is due. Two days of doses
are then logged as taken, and the supply lasts nine days: below the withdrawal-risk
threshold of ten. Two schedulers check the refills side by side, round after round, and
dispatch side by side to one webhook receiver: one `refill-due` to the patient and one
`refill-due-care-team` to each of the two clinicians on the care team, each received
once.

A real scheduler checks refills every five minutes, so rather than two `medtrack
scheduler` processes the test runs two scheduler job sets (schedules.app.Jobs, each with
its own engine, worker name and webhook notifier, as two processes have) from two
threads that start each job at the same moment.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from bench.receiver import Receiver
from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.accounts import Role
from service.domain.interactions import KnowledgeBase
from service.notify.webhook import WebhookNotifier
from service.usecases.reminders import ReminderPolicy
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.reliability.harness import SECRET, Figures, postgres_url

pytestmark = pytest.mark.skipif(
    postgres_url() is None,
    reason="several schedulers need PostgreSQL (FOR UPDATE SKIP LOCKED); "
    "set MEDTRACK_TEST_DATABASE_URL to a throwaway postgresql:// database",
)

SCHEDULERS = 2
ROUNDS = 4
LONDON = zoneinfo.ZoneInfo("Europe/London")
TABLET = "tablet 5 mg"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the weeks the test moves the clock through."""
    return settings_for(database_url, token_ttl_seconds=60 * 86400)


@pytest.fixture
def kb() -> KnowledgeBase:
    return knowledge.load()


@pytest.fixture
def schedulers(
    database_url: str, receiver: Receiver, kb: KnowledgeBase, clock: FrozenClock
) -> Iterator[list[Jobs]]:
    """Two schedulers' jobs: each its own database engine, worker name and notifier."""
    made = [
        Jobs(
            database=Database(database_url),
            kb=kb,
            notifier=WebhookNotifier(url=receiver.url, secret=SECRET),
            policy=ReminderPolicy(),
            clock=clock,
        )
        for _ in range(SCHEDULERS)
    ]
    yield made
    for jobs in made:
        jobs.notifier.close()
        jobs.database.dispose()


def at_london(day: str, hh_mm: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hh_mm}").replace(tzinfo=LONDON).astimezone(dt.UTC)


def side_by_side(schedulers: list[Jobs], job: Callable[[Jobs], None]) -> None:
    """`job` of every scheduler at once (a barrier releases them together)."""
    start = threading.Barrier(len(schedulers))
    failures: list[BaseException] = []

    def run(jobs: Jobs) -> None:
        start.wait(timeout=30)
        try:
            job(jobs)
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(jobs,)) for jobs in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a scheduler's job did not finish"
    assert not failures, failures


def rounds(schedulers: list[Jobs]) -> None:
    """Each round: every scheduler checks refills at once, then dispatches at once."""
    for _ in range(ROUNDS):
        side_by_side(schedulers, Jobs.refills)
        side_by_side(schedulers, Jobs.dispatch)


def refill_rows(database: Database) -> list[tuple[str, uuid.UUID, str, str]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT kind, recipient_id, status, idempotency_key FROM notifications "
                "WHERE kind LIKE 'refill-due%' ORDER BY kind, recipient_id"
            )
        )
        return [(str(k), uuid.UUID(str(r)), str(s), str(key)) for k, r, s, key in rows]


def tapering_patient(make: Builders, clock: FrozenClock) -> tuple[list[Account], Account, Any, Any]:
    """Diazepam 10 mg twice a day, tapered from 20 mg a day by a quarter every two
    weeks in halves of 5 mg tablets, approved; a second clinician on the care team."""
    clock.now = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    other = make.clinician()
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/care-team",
        json={"clinician_id": str(other.id)},
        headers=make.staff(Role.ADMIN).headers,
    )
    assert r.status_code == 201, r.get_json()
    rx = make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json={
            "start_dose_mg": 20,
            "algorithm": {"kind": "percent", "percent": 25},
            "max_cut_pct": 25,
            "floor_dose_mg": 2,
            "interval_days": 14,
            "start_date": "2026-06-15",
            "formulations": [{"kind": "tablet", "strength_mg": 5, "divisible_by": 2}],
        },
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    r = make.client.post(
        f"/v1/taper-plans/{plan['id']}/approve",
        json={
            "approve_flagged": [
                s["index"] for s in plan["steps"] if "exceeds_cap_needs_approval" in s["flags"]
            ],
            "acknowledge": [n["code"] for n in plan["notes"] if n["needs_approval"]],
        },
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    return [doc, other], pat, rx, r.get_json()


def supply_of(make: Builders, who: Account, rx_url: str) -> dict[str, Any]:
    r = make.client.get(f"{rx_url}/supply", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    (found,) = [f for f in r.get_json()["formulations"] if f["formulation"] == TABLET]
    return dict(found)


def take_doses(make: Builders, pat: Account, rx: Any, days: tuple[str, str]) -> int:
    doses = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses?from={days[0]}&to={days[1]}", headers=pat.headers
    ).get_json()
    taken = 0
    for d in doses:
        if d["prescription_id"] == rx["id"]:
            r = make.client.post(f"/v1/doses/{d['id']}/taken", json={}, headers=pat.headers)
            assert r.status_code in (200, 201), r.get_json()
            taken += 1
    return taken


def test_a_shortfall_is_told_once_to_the_patient_and_each_clinician_by_two_schedulers(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    receiver: Receiver,
    schedulers: list[Jobs],
) -> None:
    team, pat, rx, plan = tapering_patient(make, clock)
    first = schedulers[0]
    clock.now = at_london(plan["steps"][0]["start_date"], "00:05")
    first.advance_tapers()

    # Ten days at today's four tablets a day; the plan's next step needs three.
    clock.now = at_london("2026-06-24", "00:05")
    first.materialise()
    rx_url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"
    r = make.client.post(
        f"{rx_url}/supplies",
        json={"formulation": TABLET, "quantity": 40, "dispensed_on": "2026-06-24"},
        headers=pat.headers,
    )
    assert r.status_code == 201, r.get_json()
    before = supply_of(make, pat, rx_url)
    at_today = Decimal(str(before["on_hand"])) / Decimal(str(before["daily_use"]))
    assert at_today == 10
    assert before["days_left"] == 11, before
    rounds(schedulers)
    assert refill_rows(database) == [], "eleven days left along the plan: no refill due"

    # Two days of doses taken: nine days left, below the threshold of ten.
    clock.now = at_london("2026-06-26", "00:05")
    first.materialise()
    assert take_doses(make, pat, rx, ("2026-06-24", "2026-06-25")) == 4
    after = supply_of(make, pat, rx_url)
    assert (after["on_hand"], after["days_left"]) == (32, 9), after
    rounds(schedulers)

    rows = refill_rows(database)
    figures = Figures(f"refill reminders, {SCHEDULERS} schedulers x {ROUNDS} rounds")
    # The taper's own messages (its first step, its approval) went out too.
    refills = [d for d in receiver.accepted() if d.kind.startswith("refill-due")]
    received = Counter(d.key for d in refills)
    figures.update(
        {
            "rows": len(rows),
            "deliveries": len(refills),
            "distinct_keys": len(received),
            "bad_signatures": sum(1 for d in receiver.deliveries() if not d.signed),
        }
    )
    figures.show()
    assert sorted((kind, str(recipient)) for kind, recipient, _, _ in rows) == sorted(
        [("refill-due", str(pat.id))] + [("refill-due-care-team", str(c.id)) for c in team]
    ), rows
    assert {status for _, _, status, _ in rows} == {"sent"}, rows
    assert received == {key: 1 for _, _, _, key in rows}, figures
    assert figures["bad_signatures"] == 0, figures
    # The key goes out as the discreet data's notification_id: it names no strength.
    assert [key for *_, key in rows if TABLET in key] == []
