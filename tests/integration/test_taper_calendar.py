"""The dose calendar follows the approved taper plan: on the date of each later
step, `GET /v1/patients/{id}/doses` lists that step's amounts per time of day, for
planned doses inside the horizon and projected ones beyond it; a pause holds the
dose, an extension or a step back moves the dates at once, a cancelled plan leaves
the prescription's dose; the reminder says the step's amount."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.domain.messages import MessageStatus
from service.usecases.reminders import REMINDER, ReminderPolicy
from tests.api.test_taper_plans import act, approval, create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.integration.test_taper_advance import Recording, given, rows

LONDON = zoneinfo.ZoneInfo("Europe/London")
POLICY = ReminderPolicy()
TEN = {"08:00": Decimal(10), "20:00": Decimal(10)}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the months these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=200 * 86400)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


def at_london(day: str | dt.date, hh_mm: str = "00:00") -> dt.datetime:
    naive = dt.datetime.fromisoformat(f"{day}T{hh_mm}")
    return naive.replace(tzinfo=LONDON).astimezone(dt.UTC)


def shift(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def approved(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> tuple[Account, Account, dict[str, Any], dict[str, Any], Jobs, Recording]:
    """Diazepam 10 mg at 08:00 and 20:00 for a London patient, and its approved taper
    from 20 mg a day by a quarter every two weeks (20, 15, 12.5 ... 0) from
    2026-06-15, approved on 2026-06-10."""
    doc, pat, rx = setup(make, clock)
    r = create(make, doc, pat, rx)
    assert r.status_code == 201, r.get_json()
    draft = r.get_json()
    r = act(make, doc, draft, "approve", **approval(draft))
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    assert [s["daily_dose_mg"] for s in plan["steps"][:3]] == [20, 15, 12.5]
    notifier = Recording()
    jobs = Jobs(database=database, kb=kb, notifier=notifier, policy=POLICY, clock=clock)
    return doc, pat, rx, plan, jobs, notifier


def listed(make: Builders, who: Account, pat: Account, day: str) -> list[dict[str, Any]]:
    """The doses the API lists for the patient's local `day`."""
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses",
        query_string={
            "from": at_london(day).isoformat(),
            "to": at_london(shift(day, 1)).isoformat(),
        },
        headers=who.headers,
    )
    assert r.status_code == 200, r.get_json()
    found: list[dict[str, Any]] = r.get_json()
    return found


def amounts(make: Builders, who: Account, pat: Account, day: str) -> dict[str, Decimal]:
    """Local time -> amount of every scheduled dose listed for `day`, in mg."""
    found = [d for d in listed(make, who, pat, day) if not d["prn"]]
    assert all(d["dose"]["unit"] == "mg" for d in found)
    return {d["local_time"][11:16]: Decimal(str(d["dose"]["amount"])) for d in found}


def planned(database: Database, make: Builders, who: Account, pat: Account, day: str) -> bool:
    """Whether every dose listed for `day` is a stored row."""
    found = listed(make, who, pat, day)
    ids = {str(r[0]).replace("-", "") for r in rows(database, "SELECT id FROM dose_events")}
    return all(d["id"].replace("-", "") in ids for d in found)


def projected(database: Database, make: Builders, who: Account, pat: Account, day: str) -> bool:
    """Whether doses are listed for `day` and none of them is a stored row."""
    found = listed(make, who, pat, day)
    ids = {str(r[0]).replace("-", "") for r in rows(database, "SELECT id FROM dose_events")}
    return bool(found) and not any(d["id"].replace("-", "") in ids for d in found)


def test_beyond_the_horizon_each_later_step_lists_its_amounts(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, _, _ = approved(make, clock, database, kb)
    steps = plan["steps"]
    assert amounts(make, pat, pat, "2026-06-11") == TEN, "before the taper: the terms"
    for step in steps:
        for day in (step["start_date"], step["end_date"]):
            assert amounts(make, pat, pat, day) == given(step), (step["index"], day)
    assert projected(database, make, pat, pat, steps[1]["start_date"])
    assert amounts(make, doc, pat, shift(steps[-1]["end_date"], 30)) == {}, "the taper ended"


def test_inside_the_horizon_each_later_steps_planned_doses_carry_its_amounts(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs, _ = approved(make, clock, database, kb)
    steps = plan["steps"]
    for previous, step in itertools.pairwise(steps):
        clock.now = at_london(previous["start_date"], "00:05")
        jobs.run_once()  # the scheduler starts the step before, on its date
        clock.now = at_london(shift(step["start_date"], -1), "12:00")
        jobs.run_once()  # and plans the horizon, which covers the next step's date
        day = step["start_date"]
        assert amounts(make, pat, pat, day) == given(step), step["index"]
        if given(step):
            assert planned(database, make, pat, pat, day), "materialised, not projected"
    now = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=doc.headers).get_json()
    assert now["steps"] == steps, "the scheduler ran on time: no step moved"


def test_the_reminder_of_a_dose_on_a_steps_date_says_that_steps_amount(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    _, pat, _, plan, jobs, notifier = approved(make, clock, database, kb)
    # The patient chose notifications that name the drug and the dose.
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        json={"notification_privacy": "detailed"},
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()
    steps = plan["steps"]
    clock.now = at_london(steps[0]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(shift(steps[1]["start_date"], -1), "12:00")
    jobs.run_once()
    # The reminders of the step's first day come from the doses planned the day
    # before, whether or not the scheduler has started the step yet.
    clock.now = at_london(steps[1]["start_date"], "07:55")
    jobs.queue()
    (dose,) = [
        d for d in listed(make, pat, pat, steps[1]["start_date"]) if "T08:00" in d["local_time"]
    ]
    queued = rows(
        database,
        "SELECT status FROM notifications WHERE idempotency_key = :k",
        k=f"{REMINDER}:{dose['id']}"
        if database.engine.dialect.name == "postgresql"
        else f"{REMINDER}:{dose['id'].replace('-', '')}",
    )
    assert queued == [(MessageStatus.PENDING,)], "queued, to be sent at 08:00"
    clock.now = at_london(steps[1]["start_date"], "08:00")
    jobs.dispatch()
    (sent,) = [m for m in notifier.of_kind(REMINDER) if m.data["local_time"] == "08:00"]
    assert (
        sent.data["scheduled_at"]
        == at_london(steps[1]["start_date"], "08:00").astimezone(dt.UTC).isoformat()
    )
    assert given(steps[1])["08:00"] == Decimal("7.5")
    assert [d["dose"] for d in sent.data["doses"]] == [{"amount": 7.5, "unit": "mg"}]
    assert sent.body.startswith("7.5 mg at 08:00")


def test_a_pause_holds_the_dose_on_every_later_date_and_resuming_moves_the_steps(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs, _ = approved(make, clock, database, kb)
    steps = plan["steps"]
    clock.now = at_london(steps[0]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(steps[1]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(shift(steps[2]["start_date"], -1), "12:00")
    jobs.run_once()
    assert amounts(make, pat, pat, steps[2]["start_date"]) == given(steps[2])

    r = act(make, doc, plan, "pause", reason="withdrawal symptoms")
    assert r.status_code == 200, r.get_json()
    held = given(steps[1])
    assert planned(database, make, pat, pat, steps[2]["start_date"])
    for day in (steps[2]["start_date"], steps[3]["start_date"], steps[-1]["end_date"]):
        assert amounts(make, pat, pat, day) == held, day

    clock.now += dt.timedelta(days=2)
    r = act(make, doc, plan, "resume", reason="settled")
    assert r.status_code == 200, r.get_json()
    moved = r.get_json()["steps"]
    assert moved[2]["start_date"] == shift(steps[2]["start_date"], 2)
    today = clock.now.astimezone(LONDON).date().isoformat()
    assert amounts(make, pat, pat, today) == held, "step 1 lasts as long as the pause"
    for step in moved[2:]:
        assert amounts(make, pat, pat, step["start_date"]) == given(step), step["index"]


def test_extending_a_step_moves_the_later_steps_dates_at_once(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs, _ = approved(make, clock, database, kb)
    steps = plan["steps"]
    clock.now = at_london(steps[0]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(shift(steps[1]["start_date"], -1), "12:00")
    jobs.run_once()
    day = steps[1]["start_date"]
    assert amounts(make, pat, pat, day) == given(steps[1])

    r = act(make, doc, plan, "extend", days=7, reason="a hard week")
    assert r.status_code == 200, r.get_json()
    moved = r.get_json()["steps"]
    assert moved[1]["start_date"] == shift(day, 7)
    assert planned(database, make, pat, pat, day)
    assert amounts(make, pat, pat, day) == given(steps[0]), "the doses planned changed at once"
    for step in moved[1:4]:
        assert amounts(make, pat, pat, step["start_date"]) == given(step), step["index"]
        assert amounts(make, pat, pat, shift(step["start_date"], -1)) == given(
            moved[step["index"] - 1]
        )


def test_a_step_back_lists_the_tolerated_dose_from_tomorrow_then_the_retried_cuts(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs, _ = approved(make, clock, database, kb)
    steps = plan["steps"]
    clock.now = at_london(steps[0]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(steps[1]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(shift(steps[1]["start_date"], 3), "12:00")
    jobs.run_once()
    tomorrow = shift(steps[1]["start_date"], 4)
    assert amounts(make, pat, pat, tomorrow) == given(steps[1])

    r = act(make, doc, plan, "step-back", reason="rebound anxiety", hold_days=21)
    assert r.status_code == 200, r.get_json()
    new = r.get_json()["steps"]
    assert new[2]["start_date"] == tomorrow
    assert planned(database, make, pat, pat, tomorrow)
    assert amounts(make, pat, pat, tomorrow) == given(steps[0]), "back to 20 mg at once"
    for step in new[2:5]:
        assert amounts(make, pat, pat, step["start_date"]) == given(step), step["index"]


def test_a_cancelled_plan_leaves_the_prescriptions_dose_on_every_date(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs, _ = approved(make, clock, database, kb)
    steps = plan["steps"]
    clock.now = at_london(steps[0]["start_date"], "00:05")
    jobs.run_once()
    clock.now = at_london(shift(steps[1]["start_date"], -1), "12:00")
    jobs.run_once()
    assert amounts(make, pat, pat, steps[1]["start_date"]) == given(steps[1])
    r = act(make, doc, plan, "cancel", reason="patient's choice")
    assert r.status_code == 200, r.get_json()
    for day in (steps[1]["start_date"], steps[2]["start_date"]):
        assert amounts(make, pat, pat, day) == given(steps[0]), day
