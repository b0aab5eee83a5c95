"""The scheduler runs approved taper plans: each step starts at the start of its
date in the patient's zone, exactly once, across downtime and with two schedulers;
the prescription's dose, the planned doses and the reminders follow; the patient
is told."""

from __future__ import annotations

import datetime as dt
import threading
import zoneinfo
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.base import DeliveryReport, Message
from service.usecases import taper_steps
from service.usecases.reminders import ReminderPolicy
from service.usecases.taper_steps import advance_taper_plans
from tests.api.test_taper_plans import approval
from tests.conftest import Account, Builders, FrozenClock, settings_for

LONDON = zoneinfo.ZoneInfo("Europe/London")
POLICY = ReminderPolicy()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=60 * 86400)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


class Recording:
    """An in-process notifier keeping every message it is given."""

    name = "recording"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []

    def send(self, message: Message) -> DeliveryReport:
        with self.lock:
            self.messages.append(message)
        return DeliveryReport()

    def close(self) -> None:
        pass

    def of_kind(self, kind: str) -> list[Message]:
        return [m for m in self.messages if m.kind == kind]


def rows(database: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def local(day: str, hh_mm: str = "00:00") -> dt.datetime:
    """A London wall time as a UTC instant."""
    naive = dt.datetime.fromisoformat(f"{day}T{hh_mm}")
    return naive.replace(tzinfo=LONDON).astimezone(dt.UTC)


def approved_plan(
    make: Builders, clock: FrozenClock, **settings: Any
) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
    """Diazepam 10 mg at 08:00 and 20:00 for a London patient, and an approved taper
    by halves of 5 mg tablets, one step every two days from 2026-06-11."""
    clock.now = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    rx = make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    body = {
        "start_dose_mg": 20,
        "algorithm": {"kind": "percent", "percent": 25},
        # Steps of two days keep the scheduler's tests short; a 25% cap would spread
        # each cut over two weeks (the cap bounds any 14 days), so there is none here.
        "max_cut_pct": 100,
        "floor_dose_mg": 2.5,
        "interval_days": 2,
        "start_date": "2026-06-11",
        "formulations": [{"kind": "tablet", "strength_mg": 5, "divisible_by": 2}],
        **settings,
    }
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json=body,
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    r = make.client.post(
        f"/v1/taper-plans/{plan['id']}/approve",
        json=approval(plan),
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    return doc, pat, rx, r.get_json()


def step_records(database: Database, plan_id: str) -> list[tuple[Any, ...]]:
    return rows(
        database,
        "SELECT step_index, start_date, prescription_version FROM taper_step_records "
        "WHERE plan_id = :p ORDER BY step_index",
        p=plan_id.replace("-", "") if database.engine.dialect.name == "sqlite" else plan_id,
    )


def planned_amounts(database: Database, rx_id: str, since: dt.datetime) -> dict[str, Decimal]:
    """Local time -> amount of every pending dose from `since` (one day's worth)."""
    found = rows(
        database,
        "SELECT scheduled_at, dose_amount FROM dose_events "
        "WHERE prescription_id = :rx AND status = 'pending' AND scheduled_at >= :since "
        "ORDER BY scheduled_at",
        rx=rx_id.replace("-", "") if database.engine.dialect.name == "sqlite" else rx_id,
        since=since,
    )
    out: dict[str, Decimal] = {}
    for at, amount in found:
        when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
        when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
        slot = when.astimezone(LONDON).strftime("%H:%M")
        out.setdefault(slot, Decimal(str(amount)).normalize())
    return out


def given(step: dict[str, Any]) -> dict[str, Decimal]:
    return {
        a["time"]: Decimal(str(a["dose_mg"])).normalize()
        for a in step["administrations"]
        if a["dose_mg"] > 0
    }


def test_each_step_starts_once_on_its_date_and_doses_follow_across_an_outage(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan = approved_plan(make, clock)
    steps = plan["steps"]
    assert len(steps) >= 5
    assert plan["status"] == "approved"
    assert plan["next_step_at"] == "2026-06-10T23:00:00+00:00"  # midnight BST
    # The patient chose notifications that name the drug, the dose and the step.
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        json={"notification_privacy": "detailed"},
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()
    notifier = Recording()
    jobs = Jobs(database=database, kb=kb, notifier=notifier, policy=POLICY, clock=clock)

    clock.now = local("2026-06-11") - dt.timedelta(minutes=1)
    jobs.run_once()
    assert step_records(database, plan["id"]) == []

    clock.now = local("2026-06-11")
    jobs.run_once()
    assert [r[0] for r in step_records(database, plan["id"])] == [0]
    view = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=doc.headers).get_json()
    assert view["status"] == "active"
    assert [v["change"] for v in view["versions"]][-1] == "start"
    assert view["next_step_at"] == local(steps[1]["start_date"]).isoformat()
    (started,) = notifier.of_kind("taper-step")
    assert started.recipient_id == str(pat.id)
    assert "starts today" in started.title

    # The scheduler is down for two days from just before step 1 starts. Step 1
    # then starts on the day it comes back, not two cuts at once: step 0 lasts two
    # days longer and every later step moves with it.
    clock.now = local(steps[2]["start_date"], "06:00")
    jobs.run_once()
    jobs.run_once()  # a second pass starts nothing again
    records = step_records(database, plan["id"])
    assert [(r[0], str(r[1])) for r in records] == [
        (0, steps[0]["start_date"]),
        (1, steps[2]["start_date"]),
    ], "one record per step, none doubled, the late one started today"
    view = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=doc.headers).get_json()
    assert [v["change"] for v in view["versions"]][-2:] == ["start", "delay"]
    moved = view["steps"]
    assert moved[0]["days"] == steps[0]["days"] + 2
    assert "extended" in moved[0]["flags"]
    assert [s["daily_dose_mg"] for s in moved] == [s["daily_dose_mg"] for s in steps]
    assert [s["days"] for s in moved[1:]] == [s["days"] for s in steps[1:]]
    assert view["next_step_at"] == local(moved[2]["start_date"]).isoformat()

    def prescribed_daily() -> Decimal:
        rx_now = make.client.get(
            f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}", headers=doc.headers
        ).get_json()
        assert rx_now["change"] == "taper-step"
        each = rx_now["schedule"]["amounts"] or [rx_now["dose"]["amount"]] * 2
        return sum((Decimal(str(a)) for a in each), Decimal(0))

    def todays_amounts() -> dict[str, Decimal]:
        today = make.client.get("/v1/me/doses/today", headers=pat.headers).get_json()
        return {
            dt.datetime.fromisoformat(d["scheduled_at"]).astimezone(LONDON).strftime("%H:%M"): (
                Decimal(str(d["dose"]["amount"]))
            )
            for d in today["doses"]
        }

    assert prescribed_daily() == Decimal(str(steps[1]["daily_dose_mg"]))
    assert planned_amounts(database, rx["id"], clock.now) == given(steps[1])
    assert todays_amounts() == given(steps[1])

    # The reminder for today's 08:00 dose carries the new dose.
    clock.now = local(moved[1]["start_date"], "08:00")
    jobs.run_once()
    reminders = list(notifier.of_kind("dose-reminder"))
    assert reminders
    (dose,) = reminders[-1].data["doses"]
    assert dose["dose"]["unit"] == "mg"
    assert Decimal(str(dose["dose"]["amount"])) == given(steps[1])["08:00"]
    told = notifier.of_kind("taper-step")
    assert len(told) == 2
    assert "changes today" in told[-1].title
    assert told[-1].data["step_index"] == 1

    # Step 2 starts on its new date, its dose split unevenly between the times.
    clock.now = local(moved[2]["start_date"], "00:00")
    jobs.run_once()
    assert [r[0] for r in step_records(database, plan["id"])] == [0, 1, 2]
    assert given(steps[2]) == {"08:00": Decimal("7.5"), "20:00": Decimal(5)}
    assert prescribed_daily() == Decimal("12.5")
    assert planned_amounts(database, rx["id"], clock.now) == given(steps[2])
    assert todays_amounts() == given(steps[2])
    told = notifier.of_kind("taper-step")
    assert f"{steps[2]['daily_dose_mg']:g} mg a day" in told[-1].body


def test_the_last_step_stops_the_drug_and_completes_the_plan(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan = approved_plan(make, clock)
    steps = plan["steps"]
    jobs = Jobs(database=database, kb=kb, notifier=Recording(), policy=POLICY, clock=clock)
    for step in steps:
        clock.now = local(step["start_date"], "00:30")
        jobs.run_once()
    assert [r[0] for r in step_records(database, plan["id"])] == [s["index"] for s in steps]
    view = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=doc.headers).get_json()
    assert view["status"] == "completed"
    assert view["next_step_at"] is None
    assert [len(view["step_records"]), view["step_records"][-1]["daily_dose_mg"]] == [
        len(steps),
        0,
    ]
    rx_now = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}", headers=doc.headers
    ).get_json()
    assert (rx_now["status"], rx_now["change"]) == ("discontinued", "taper-complete")
    assert planned_amounts(database, rx["id"], clock.now) == {}
    clock.now += dt.timedelta(days=3)
    jobs.run_once()
    assert len(step_records(database, plan["id"])) == len(steps)


def test_two_schedulers_start_each_step_once(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,
    settings: Settings,
) -> None:
    plans = [approved_plan(make, clock)[3] for _ in range(4)]
    clock.now = local(plans[0]["steps"][3]["start_date"], "01:00")
    errors: list[BaseException] = []

    def scheduler() -> None:
        db = Database(settings.database_url)
        try:
            for _ in range(3):
                advance_taper_plans(uow=db.uow(), clock=clock, kb=kb, policy=POLICY)
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for plan in plans:
        assert [r[0] for r in step_records(database, plan["id"])] == [0, 1]
    versions = Counter(
        r[0]
        for r in rows(
            database,
            "SELECT prescription_id FROM prescription_versions WHERE change = 'taper-step'",
        )
    )
    assert sorted(versions.values()) == [1, 1, 1, 1], "one new version per dose change"
    delays = rows(database, "SELECT count(*) FROM taper_plan_versions WHERE change = 'delay'")
    assert delays == [(4,)], "each late plan moved once"
    told = rows(database, "SELECT count(*) FROM notifications WHERE kind = 'taper-step'")
    assert told == [(4,)]


def test_a_paused_plan_holds_its_step_and_resumes_later(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, _pat, _rx, plan = approved_plan(make, clock)
    steps = plan["steps"]
    jobs = Jobs(database=database, kb=kb, notifier=Recording(), policy=POLICY, clock=clock)
    clock.now = local(steps[1]["start_date"], "09:00")
    jobs.run_once()
    r = make.client.post(
        f"/v1/taper-plans/{plan['id']}/pause", json={"reason": "anxious"}, headers=doc.headers
    )
    assert r.status_code == 200
    assert r.get_json()["next_step_at"] is None
    clock.now = local(steps[3]["start_date"], "09:00")
    jobs.run_once()
    assert [r[0] for r in step_records(database, plan["id"])] == [0, 1]
    r = make.client.post(
        f"/v1/taper-plans/{plan['id']}/resume", json={"reason": "settled"}, headers=doc.headers
    )
    resumed = r.get_json()
    assert resumed["steps"][2]["start_date"] > steps[2]["start_date"]
    assert resumed["next_step_at"] == local(resumed["steps"][2]["start_date"]).isoformat()
    jobs.run_once()
    assert [r[0] for r in step_records(database, plan["id"])] == [0, 1]
    clock.now = local(resumed["steps"][2]["start_date"], "00:01")
    jobs.run_once()
    assert [r[0] for r in step_records(database, plan["id"])] == [0, 1, 2]


def test_discontinuing_the_prescription_cancels_its_plan(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan = approved_plan(make, clock)
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/discontinue",
        json={"reason": "admitted to hospital", "abrupt_stop_reason": "inpatient taper"},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    view = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=doc.headers).get_json()
    assert (view["status"], view["versions"][-1]["change"]) == ("cancelled", "cancel")
    jobs = Jobs(database=database, kb=kb, notifier=Recording(), policy=POLICY, clock=clock)
    clock.now = local(plan["steps"][1]["start_date"], "09:00")
    jobs.run_once()
    assert step_records(database, plan["id"]) == []


def test_a_plan_that_cannot_advance_does_not_hold_up_the_others(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken, fine = (approved_plan(make, clock)[3] for _ in range(2))
    real = taper_steps._start_step

    def start(uow: Any, run: Any, step: Any) -> None:
        if str(run.plan.id) == broken["id"]:
            raise RuntimeError("a plan the scheduler cannot start")
        real(uow, run, step)

    monkeypatch.setattr(taper_steps, "_start_step", start)
    clock.now = local(broken["steps"][0]["start_date"], "00:01")
    summary = advance_taper_plans(uow=database.uow(), clock=clock, kb=kb, policy=POLICY)
    assert (summary.failed, summary.plans, summary.steps) == (1, 1, 1)
    assert step_records(database, broken["id"]) == []
    assert [r[0] for r in step_records(database, fine["id"])] == [0]
