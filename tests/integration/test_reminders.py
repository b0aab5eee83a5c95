"""Planning, dispatch and follow-up against a real database and a real local
webhook receiver, with the clock under the test's control."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import text

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.accounts import Principal, Role
from service.domain.interactions import KnowledgeBase
from service.notify.base import DeliveryReport, Message
from service.notify.webhook import WebhookNotifier
from service.usecases.context import Caller
from service.usecases.dispatch import dispatch_due, queue_due_messages
from service.usecases.reminders import ReminderPolicy
from tests.conftest import Account, Builders, FrozenClock, is_postgres, settings_for
from tests.notify.fake_http import FakeServer, Recorded, Reply

SECRET = "a-webhook-secret-for-tests-only"
UTC = dt.UTC


def at(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_.replace("Z", "+00:00"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


class Receiver:
    """A webhook receiver on 127.0.0.1 whose answers the test scripts."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.server = FakeServer(self._answer)

    def _answer(self, _: Recorded) -> Reply:
        status = self.script.pop(0) if self.script else 200
        return Reply(status=status, headers={"Retry-After": "1"} if status == 503 else {})

    @property
    def requests(self) -> list[Recorded]:
        return self.server.requests

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.server.start()
    yield r
    r.server.stop()


POLICY = ReminderPolicy()


@pytest.fixture
def jobs(
    database: Database, kb: KnowledgeBase, clock: FrozenClock, receiver: Receiver
) -> Iterator[Jobs]:
    notifier = WebhookNotifier(
        url=receiver.server.url, secret=SECRET, timeout_seconds=2, clock=lambda: clock().timestamp()
    )
    j = Jobs(database=database, kb=kb, notifier=notifier, policy=POLICY, clock=clock)
    yield j
    notifier.close()


def rows(database: Database, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def start(make: Builders, clock: FrozenClock, now: str, **rx: Any) -> tuple[Account, Account]:
    """A New York patient and a prescription written at `now`."""
    clock.now = at(now)
    doc = make.clinician()
    pat = make.patient(doc, timezone="America/New_York")
    body = {"schedule": {"times": ["08:00"], "as_needed": False}, "start_date": now[:10], **rx}
    make.prescription(doc, pat, **body)
    return doc, pat


def detailed(make: Builders, pat: Account) -> None:
    """The patient chooses notifications that name their drugs."""
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        json={"notification_privacy": "detailed"},
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()


def test_planning_and_queueing_are_idempotent(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs
) -> None:
    start(make, clock, "2026-06-10T11:00:00Z", schedule={"times": ["08:00", "20:00"]})
    events = rows(
        database, "SELECT id, scheduled_at, status FROM dose_events ORDER BY scheduled_at"
    )
    # 48 hours from 11:00Z: 12:00Z and 00:00Z twice each.
    assert len(events) == 4
    queued = []
    for _ in range(3):
        jobs.materialise()
        clock.advance(minutes=55)  # 11:55: the 12:00Z reminder is within the lead time
        queued.append(queue_due_messages(uow=database.uow(), clock=clock, policy=POLICY))
        clock.advance(minutes=-55)
    assert [(q.reminders, q.follow_ups, q.expired) for q in queued] == [
        (1, 0, 0),
        (0, 0, 0),
        (0, 0, 0),
    ]
    assert (
        rows(database, "SELECT id, scheduled_at, status FROM dose_events ORDER BY scheduled_at")
        == events
    )
    assert rows(database, "SELECT kind, status FROM notifications") == [
        ("dose-reminder", "pending")
    ]


def test_a_due_dose_reaches_the_webhook_once_signed_and_can_then_be_logged(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    _, pat = start(make, clock, "2026-06-10T11:00:00Z")  # the dose: 08:00 EDT = 12:00Z
    clock.now = at("2026-06-10T11:59:00Z")
    jobs.run_once()
    assert receiver.requests == [], "nothing is sent before its time"
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.run_once()
    jobs.run_once()
    clock.advance(seconds=20)
    jobs.run_once()
    assert len(receiver.requests) == 1
    (request,) = receiver.requests
    ((event_id,),) = rows(
        database, "SELECT id FROM dose_events WHERE scheduled_at <= :t", t=clock.now
    )
    body = json.loads(request.body)
    assert body["kind"] == "dose-reminder"
    # Discreet by default: no drug, no dose, no patient id; ids the app looks up.
    assert "patient_id" not in body
    assert b"escitalopram" not in request.body
    assert b"10 mg" not in request.body
    assert (body["title"], body["body"]) == (
        "Time for your 08:00 medicines",
        "Open the app to see what to take.",
    )
    assert body["data"]["scheduled_at"] == "2026-06-10T12:00:00+00:00"
    assert body["data"]["local_time"] == "08:00"
    assert request.headers["Idempotency-Key"] == body["idempotency_key"]
    assert body["data"]["dose_ids"] == [str(uuid.UUID(str(event_id)))]
    dose_id = body["data"]["dose_ids"][0]
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Medtrack-Signature"], f"sha256={expected}")
    assert rows(
        database, "SELECT status FROM dose_events WHERE scheduled_at <= :t", t=clock.now
    ) == [("reminded",)]
    assert rows(database, "SELECT status, attempts FROM notifications") == [("sent", 1)]

    r = make.client.post(f"/v1/doses/{dose_id}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    clock.advance(hours=1)  # past the follow-up time: a taken dose gets no follow-up
    jobs.run_once()
    assert len(receiver.requests) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_delivered_once(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    start(make, clock, "2026-06-10T11:00:00Z")
    receiver.script = [503, 500]
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.run_once()
    (retry_at,) = rows(database, "SELECT next_attempt_at FROM notifications")[0]
    assert rows(database, "SELECT status, attempts FROM notifications") == [("pending", 1)]
    first_wait = _utc(retry_at) - clock.now
    assert first_wait == POLICY.retry_base
    jobs.dispatch()
    assert len(receiver.requests) == 1, "not retried before its backoff"
    clock.now = _utc(retry_at)
    jobs.dispatch()
    (retry_at,) = rows(database, "SELECT next_attempt_at FROM notifications")[0]
    assert _utc(retry_at) - clock.now == 2 * POLICY.retry_base
    clock.now = _utc(retry_at)
    jobs.dispatch()
    assert rows(database, "SELECT status, attempts FROM notifications") == [("sent", 3)]
    keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
    assert len(receiver.requests) == 3
    assert len(keys) == 1, "a retry carries the same idempotency key"


def _utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_after_the_retry_limit_a_message_is_dead_lettered_and_listed(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    jobs.policy = replace(POLICY, max_attempts=3, retry_base=dt.timedelta(seconds=1))
    start(make, clock, "2026-06-10T11:00:00Z")
    receiver.script = [500] * 10
    clock.now = at("2026-06-10T12:00:00Z")
    for _ in range(6):
        jobs.run_once()
        clock.advance(seconds=10)
    assert len(receiver.requests) == 3
    ((status, attempts, error),) = rows(
        database, "SELECT status, attempts, last_error FROM notifications"
    )
    assert (status, attempts) == ("failed", 3)
    assert "500" in error
    admin = make.admin()
    r = make.client.get("/v1/admin/notifications?status=failed", headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    (listed,) = r.get_json()
    assert (listed["status"], listed["attempts"]) == ("failed", 3)
    assert listed["last_error_class"] == "webhook:http-500"
    assert "kind" not in listed, "administrators do not see what a message is about"
    doc = make.clinician()
    assert make.client.get("/v1/admin/notifications", headers=doc.headers).status_code == 403


def test_a_claim_left_by_a_crashed_dispatcher_is_taken_over_after_its_lease(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    start(make, clock, "2026-06-10T11:00:00Z")
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.materialise()
    jobs.queue()
    # A dispatcher claims the reminder and dies before sending it.
    with database.uow() as uow:
        claimed = uow.outbox.claim(worker="crashed", now=clock(), lease=POLICY.lease, limit=10)
        uow.commit()
    assert len(claimed) == 1
    jobs.dispatch()
    assert receiver.requests == [], "the claim is respected while its lease runs"
    clock.advance(seconds=POLICY.lease.total_seconds())
    jobs.dispatch()
    jobs.dispatch()
    assert len(receiver.requests) == 1
    assert rows(database, "SELECT status, claimed_by FROM notifications") == [("sent", None)]


def test_reminders_too_old_after_downtime_are_expired_not_sent(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    start(make, clock, "2026-06-10T11:00:00Z", schedule={"times": ["08:00", "10:30"]})
    jobs.materialise()
    clock.now = at("2026-06-10T11:58:00Z")
    jobs.queue()  # the 12:00Z reminder is queued; then the scheduler is down
    clock.now = at("2026-06-10T14:45:00Z")  # 12:00Z is 2 h 45 min ago; 14:30Z is 15 min ago
    jobs.run_once()
    reminders = [b for b in receiver.bodies() if b["kind"] == "dose-reminder"]
    assert [b["data"]["local_time"] for b in reminders] == ["10:30"]
    # The expired dose is missed, and escitalopram's care team hears of it.
    assert len(care_team_messages(receiver)) == 1
    assert stored_reasons(database) == ["withdrawal-risk"]
    assert rows(
        database,
        "SELECT n.status, e.status FROM notifications n JOIN dose_events e "
        "ON e.id = n.dose_event_id WHERE n.kind = 'dose-reminder' ORDER BY e.scheduled_at",
    ) == [("expired", "missed"), ("sent", "reminded")]


def care_team_messages(receiver: Receiver) -> list[dict[str, Any]]:
    return [b for b in receiver.bodies() if b["kind"] == "missed-dose-care-team"]


def stored_reasons(database: Database) -> list[str]:
    """Why each care-team alert was raised, as stored for the console: the push itself
    is discreet and does not say (a withdrawal risk would name a class of drug)."""
    payloads = rows(
        database,
        "SELECT payload FROM notifications WHERE kind = 'missed-dose-care-team' ORDER BY id",
    )
    return [(p if isinstance(p, dict) else json.loads(p))["data"]["reason"] for (p,) in payloads]


def test_follow_up_then_missed_then_the_care_team_for_a_withdrawal_risk_drug(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    doc, pat = start(
        make, clock, "2026-06-10T11:00:00Z", drug="diazepam", dose={"amount": 5, "unit": "mg"}
    )
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.run_once()
    clock.now = at("2026-06-10T12:30:00Z")
    jobs.run_once()
    clock.now = at("2026-06-10T14:00:00Z")
    jobs.run_once()
    jobs.run_once()
    kinds = [b["kind"] for b in receiver.bodies()]
    assert kinds == ["dose-reminder", "dose-follow-up", "missed-dose-care-team"]
    (alert,) = care_team_messages(receiver)
    assert alert["recipient_id"] == str(doc.id)
    assert "reason" not in alert["data"]
    assert stored_reasons(database) == ["withdrawal-risk"]
    # A clinician's lock screen: no drug, no patient id, whatever the patient chose.
    assert "diazepam" not in json.dumps(alert)
    assert str(pat.patient_id) not in json.dumps(alert)
    assert pat.email not in json.dumps(alert)
    assert rows(
        database, "SELECT status FROM dose_events WHERE scheduled_at <= :t", t=clock.now
    ) == [("missed",)]


def test_other_drugs_alert_the_care_team_after_several_misses_in_a_row(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    start(
        make, clock, "2026-06-10T11:00:00Z", drug="atorvastatin", dose={"amount": 20, "unit": "mg"}
    )
    for day in ("10", "11", "12"):
        clock.now = at(f"2026-06-{day}T12:00:00Z")
        jobs.run_once()
        clock.now = at(f"2026-06-{day}T14:30:00Z")
        jobs.run_once()
        if day != "12":
            assert care_team_messages(receiver) == [], f"one or two misses are not alerted ({day})"
    (alert,) = care_team_messages(receiver)
    assert "reason" not in alert["data"]
    assert stored_reasons(database) == ["missed-in-a-row"]
    # The push is discreet; the stored message, which the console shows, has the count.
    ((payload,),) = rows(
        database, "SELECT payload FROM notifications WHERE kind = 'missed-dose-care-team'"
    )
    stored = json.loads(payload) if isinstance(payload, str) else payload
    assert "3 doses" in stored["body"]
    assert "3 doses" not in alert["body"]


class Recording:
    """An in-process notifier that counts deliveries per dose (a patient's doses of one
    instant go as one message), or per idempotency key for other messages."""

    name = "recording"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        self.by_thread: Counter[int] = Counter()

    def send(self, message: Message) -> DeliveryReport:
        with self.lock:
            for dose in message.data.get("dose_ids") or [message.idempotency_key]:
                self.sent[f"{message.kind}:{dose}"] += 1
            self.by_thread[threading.get_ident()] += 1
        time.sleep(0.001)  # a send takes a moment, so the dispatchers overlap
        return DeliveryReport()

    def close(self) -> None:
        pass


@pytest.mark.skipif(not is_postgres(), reason="concurrent claims need PostgreSQL")
def test_two_dispatchers_on_postgresql_send_nothing_twice(
    make: Builders, clock: FrozenClock, database: Database, settings: Settings, kb: KnowledgeBase
) -> None:
    clock.now = at("2026-06-10T04:00:00Z")
    doc = make.clinician()
    times = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0,)]
    for _ in range(4):
        pat = make.patient(doc, timezone="UTC")
        for drug in ("atorvastatin", "metformin", "lisinopril", "gabapentin", "omeprazole"):
            make.prescription(
                doc,
                pat,
                drug=drug,
                # 24 mg a day: within each label's maximum.
                dose={"amount": 1, "unit": "mg"},
                schedule={"times": times, "as_needed": False},
                start_date="2026-06-10",
            )
    clock.now = at("2026-06-10T23:30:00Z")  # 20 doses a day x 20 prescriptions are due
    policy = replace(POLICY, batch=25, expiry=dt.timedelta(days=1))
    notifier = Recording()
    setup = Jobs(database=database, kb=kb, notifier=notifier, policy=policy, clock=clock)
    setup.materialise()
    setup.queue()
    (due,) = rows(database, "SELECT count(*) FROM notifications WHERE status = 'pending'")[0]
    assert due == 20 * 20
    errors: list[BaseException] = []

    def dispatcher() -> None:
        db = Database(settings.database_url)
        try:
            dispatch_due(
                uow=db.uow(),
                clock=clock,
                notifier=notifier,
                policy=policy,
                worker=f"w-{threading.get_ident()}",
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sum(notifier.sent.values()) == due
    assert set(notifier.sent.values()) == {1}
    assert len(notifier.by_thread) == 2, "both dispatchers took part"
    assert rows(database, "SELECT DISTINCT status FROM notifications") == [("sent",)]


class Keeping:
    """An in-process notifier that keeps every message."""

    name = "keeping"

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, message: Message) -> DeliveryReport:
        self.messages.append(message)
        return DeliveryReport()

    def close(self) -> None:
        pass


def test_each_reminder_carries_the_recipients_active_devices_with_their_keys(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    _, pat = start(make, clock, "2026-06-10T11:00:00Z")
    keys = {"p256dh": "B" + "A" * 86, "auth": "c" * 22}
    webpush = {
        "platform": "webpush",
        "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "keys": keys,
    }
    for body in (webpush, {"platform": "fcm", "token": "fcm-token-1"}):
        r = make.client.post("/v1/me/devices", json=body, headers=pat.headers)
        assert r.status_code == 201, r.get_json()
    r = make.client.post(
        "/v1/me/devices", json={"platform": "fcm", "token": "fcm-token-2"}, headers=pat.headers
    )
    removed = make.client.delete(f"/v1/me/devices/{r.get_json()['id']}", headers=pat.headers)
    assert removed.status_code == 204
    notifier = Keeping()
    jobs = Jobs(database=database, kb=kb, notifier=notifier, policy=POLICY, clock=clock)
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.run_once()
    (message,) = notifier.messages
    devices = sorted((d.platform, d.endpoint, d.token, dict(d.keys)) for d in message.devices)
    assert devices == [
        ("fcm", None, "fcm-token-1", {}),
        ("webpush", webpush["endpoint"], None, keys),
    ]


def future_open(database: Database, after: dt.datetime) -> list[tuple[Any, ...]]:
    return rows(
        database,
        "SELECT status FROM dose_events WHERE scheduled_at > :t AND status IN "
        "('pending', 'reminded')",
        t=after,
    )


def test_a_discontinued_prescription_gets_no_doses_or_messages_back(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    doc, pat = start(
        make, clock, "2026-06-10T11:00:00Z", drug="diazepam", dose={"amount": 5, "unit": "mg"}
    )
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.run_once()  # the 12:00Z dose is reminded
    (rx,) = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers
    ).get_json()
    clock.now = at("2026-06-10T12:10:00Z")
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/discontinue",
        json={"reason": "switched", "abrupt_stop_reason": "respiratory depression"},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    for when in ("2026-06-10T12:40:00Z", "2026-06-10T14:30:00Z", "2026-06-11T12:00:00Z"):
        clock.now = at(when)
        jobs.run_once()
        make.client.get(
            f"/v1/patients/{pat.patient_id}/doses",
            query_string={"from": "2026-06-10T00:00:00Z", "to": "2026-06-13T00:00:00Z"},
            headers=pat.headers,
        )
    assert future_open(database, at("2026-06-10T12:10:00Z")) == []
    # One reminder before the stop; no follow-up and no care-team alert after it.
    assert [b["kind"] for b in receiver.bodies()] == ["dose-reminder"]


@pytest.mark.skipif(not is_postgres(), reason="row locks: PostgreSQL")
def test_planning_and_a_concurrent_discontinuation_do_not_leave_doses_behind(
    make: Builders, clock: FrozenClock, database: Database, settings: Settings, kb: KnowledgeBase
) -> None:
    from service.domain.prescriptions import Action
    from service.usecases.planning import _plan_locked
    from service.usecases.prescriptions import change_status

    doc, pat = start(make, clock, "2026-06-10T11:00:00Z")
    (rx,) = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers
    ).get_json()
    rx_id = uuid.UUID(rx["id"])
    clock.now = at("2026-06-10T14:00:00Z")  # the planning job's turn: a new slice to plan
    stopped = threading.Event()
    planner = database.uow()
    with planner:
        schedules = planner.planning.active_schedules(ids=[rx_id], lock=True)
        assert len(schedules) == 1

        def discontinue() -> None:
            other = Database(settings.database_url)
            try:
                caller = Caller(principal=Principal(user_id=doc.id, role=Role.CLINICIAN))
                change_status(
                    uow=other.uow(),
                    caller=caller,
                    clock=clock,
                    kb=kb,
                    patient_id=pat.patient_id,
                    rx_id=rx_id,
                    action=Action.DISCONTINUE,
                    reason="stopped",
                    abrupt_stop_reason="hyponatraemia",
                )
            finally:
                other.dispose()
                stopped.set()

        thread = threading.Thread(target=discontinue)
        thread.start()
        assert not stopped.wait(0.5), "the discontinuation waits for the planning in flight"
        planned = _plan_locked(
            planner, kb, POLICY, schedules, now=clock.now + dt.timedelta(hours=3)
        )
        assert planned > 0
        planner.commit()
    thread.join(timeout=10)
    assert stopped.is_set()
    assert future_open(database, clock.now) == []


def test_a_new_time_zone_plans_from_now_and_not_twice_the_same_day(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    clock.now = at("2026-06-09T05:00:00Z")
    doc = make.clinician()
    pat = make.patient(doc, timezone="Europe/London")
    make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 5, "unit": "mg"},
        schedule={"times": ["08:00"], "as_needed": False},
        start_date="2026-06-09",
    )
    url = f"/v1/patients/{pat.patient_id}/doses"
    window = {"from": "2026-06-09T00:00:00Z", "to": "2026-06-12T00:00:00Z"}
    for dose in make.client.get(url, query_string=window, headers=pat.headers).get_json()[:2]:
        clock.now = at(dose["scheduled_at"]) + dt.timedelta(minutes=5)
        r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=pat.headers)
        assert r.status_code == 200  # 06-09 and 06-10 at 08:00 London, taken
    clock.now = at("2026-06-10T11:00:00Z")  # 07:00 in New York
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"timezone": "America/New_York"}, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()
    jobs.run_once()
    found = make.client.get(url, query_string=window, headers=pat.headers).get_json()
    assert [(d["local_time"], d["status"]) for d in found] == [
        ("2026-06-09T08:00:00+01:00", "taken"),
        ("2026-06-10T08:00:00+01:00", "taken"),
        # not 06-10 08:00 in New York (that day's dose was taken) nor 06-09 there
        ("2026-06-11T08:00:00-04:00", "pending"),
    ]
    clock.now = at("2026-06-11T18:00:00Z")
    jobs.run_once()
    # The only alert is about the New York dose really missed, none about a dose
    # the new zone would have had in the past.
    assert [m["data"]["scheduled_at"] for m in care_team_messages(receiver)] == [
        "2026-06-11T12:00:00+00:00"
    ]


def test_a_revision_inside_the_lead_time_still_reminds_with_the_new_dose(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    doc, pat = start(make, clock, "2026-06-10T11:00:00Z")
    (rx,) = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions", headers=doc.headers
    ).get_json()
    clock.now = at("2026-06-10T11:55:00Z")
    jobs.run_once()  # the 12:00Z reminder is queued
    clock.now = at("2026-06-10T11:56:00Z")
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}",
        json={"dose": {"amount": 5, "unit": "mg"}, "reason": "taper", "abrupt_stop_reason": "QT"},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    detailed(make, pat)
    clock.now = at("2026-06-10T12:00:00Z")
    jobs.run_once()
    assert [(b["kind"], b["data"]["doses"][0]["dose"]) for b in receiver.bodies()] == [
        ("dose-reminder", {"amount": 5, "unit": "mg"})
    ]


def test_a_slow_receiver_makes_the_dispatcher_hand_back_what_it_cannot_send_in_time(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase, receiver: Receiver
) -> None:
    clock.now = at("2026-06-10T00:30:00Z")
    doc = make.clinician()
    pat = make.patient(doc, timezone="UTC")
    make.prescription(
        doc,
        pat,
        # Ten times a day, within the label's daily maximum.
        dose={"amount": 1, "unit": "mg"},
        schedule={"times": [f"{h:02d}:00" for h in range(1, 11)], "as_needed": False},
        start_date="2026-06-10",
    )
    slow = Receiver()
    slow.server = FakeServer(lambda _: Reply(status=200, delay_seconds=0.25))
    slow.server.start()
    try:
        notifier = WebhookNotifier(url=slow.server.url, secret=SECRET, timeout_seconds=2)
        policy = replace(POLICY, lease=dt.timedelta(seconds=2), expiry=dt.timedelta(hours=12))
        j = Jobs(database=database, kb=kb, notifier=notifier, policy=policy, clock=clock)
        clock.now = at("2026-06-10T10:00:00Z")  # ten reminders due
        j.materialise()
        j.queue()
        first = dispatch_due(
            uow=database.uow(), clock=clock, notifier=notifier, policy=policy, worker="w1"
        )
        assert 0 < first.sent < 10, "about one second of sends, then the rest handed back"
        assert rows(database, "SELECT count(*) FROM notifications WHERE status = 'claimed'") == [
            (0,)
        ]
        for _ in range(5):
            dispatch_due(
                uow=database.uow(), clock=clock, notifier=notifier, policy=policy, worker="w2"
            )
        keys = Counter(r.headers["Idempotency-Key"] for r in slow.requests)
        assert len(keys) == 10
        assert set(keys.values()) == {1}
        assert rows(database, "SELECT DISTINCT status, attempts FROM notifications") == [
            ("sent", 1)
        ]
        notifier.close()
    finally:
        slow.server.stop()


def test_several_misses_in_a_row_alert_once_per_run(
    make: Builders, clock: FrozenClock, database: Database, jobs: Jobs, receiver: Receiver
) -> None:
    start(
        make, clock, "2026-06-10T11:00:00Z", drug="atorvastatin", dose={"amount": 20, "unit": "mg"}
    )
    for day in ("10", "11", "12", "13", "14"):
        clock.now = at(f"2026-06-{day}T14:30:00Z")
        jobs.run_once()
    assert len(care_team_messages(receiver)) == 1
    assert stored_reasons(database) == ["missed-in-a-row"]
