"""A clinician's change to a running taper tells the patient what happens next, over
HTTP: one `taper-changed` message per change, to the patient, through the outbox
and the dispatcher like a step's message; a draft's changes tell no one."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import text

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.base import DeliveryReport, Message
from service.usecases.reminders import ReminderPolicy
from tests.api.test_taper_plans import act, create, setup
from tests.api.test_taper_running import at_london, running
from tests.conftest import Account, Builders, FrozenClock, settings_for


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


def told(database: Database, patient: Account) -> list[dict[str, Any]]:
    """The patient's taper-changed messages, oldest first."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT recipient_id, payload, idempotency_key FROM notifications "
                "WHERE kind = 'taper-changed' ORDER BY id"
            )
        )
        found = []
        for recipient, payload, key in rows:
            assert str(recipient).replace("-", "") == patient.id.hex, "to the patient"
            data = json.loads(payload) if isinstance(payload, str) else payload
            found.append({**data, "key": key})
        return found


def test_each_change_to_a_running_plan_says_what_happens_next(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs = running(make, clock, database, kb)
    steps = plan["steps"]
    approved = told(database, pat)
    assert [m["title"] for m in approved] == ["Your diazepam taper is approved"]
    assert approved[0]["body"].startswith(f"It starts on {steps[0]['start_date']}: 20 mg a day")

    clock.now = at_london(steps[0]["start_date"], "12:00") + dt.timedelta(days=2)
    assert act(make, doc, plan, "pause", reason="flu").status_code == 200
    paused = told(database, pat)[-1]
    assert paused["title"] == "Your diazepam taper is paused"
    assert paused["body"] == (
        "You stay on 20 mg a day (08:00 10 mg, 20:00 10 mg) until your clinician resumes "
        "it; your dose does not change meanwhile."
    )
    assert paused["data"]["change"] == "pause"
    assert paused["data"]["daily_dose_mg"] == "20"

    clock.advance(days=3)
    resumed = act(make, doc, plan, "resume", reason="better").get_json()
    step = resumed["steps"][0]
    body = told(database, pat)[-1]["body"]
    assert body.startswith(
        f"Keep to 20 mg a day (08:00 10 mg, 20:00 10 mg) until {step['end_date']}"
    )
    assert f"then 15 mg a day from {resumed['steps'][1]['start_date']}" in body

    extended = act(make, doc, plan, "extend", days=7, reason="travel").get_json()
    message = told(database, pat)[-1]
    assert message["title"] == "Your diazepam taper is extended by 7 days"
    assert f"until {extended['steps'][0]['end_date']}" in message["body"]

    for index in (1, 2):
        clock.now = at_london(extended["steps"][index]["start_date"], "00:05")
        jobs.advance_tapers()
    clock.advance(hours=10)
    back = act(make, doc, plan, "step-back", reason="rebound", hold_days=10).get_json()
    message = told(database, pat)[-1]
    held = next(s for s in back["steps"] if "step_back" in s["flags"])
    assert message["title"] == "Your diazepam dose goes back up"
    assert message["body"].startswith(f"From {held['start_date']}, take 15 mg a day")
    assert f"until {held['end_date']}" in message["body"]

    assert act(make, doc, plan, "cancel", reason="stopping the taper").status_code == 200
    cancelled = told(database, pat)[-1]
    assert cancelled["title"] == "Your diazepam taper is cancelled"
    assert cancelled["body"].startswith("Keep taking 12.5 mg a day")

    messages = told(database, pat)
    assert len(messages) == 6, "approve, pause, resume, extend, step back, cancel"
    assert len({m["key"] for m in messages}) == 6, "one per plan version"
    assert all("reason" not in m["body"] and "travel" not in m["body"] for m in messages)


def test_a_drafts_changes_tell_no_one(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    assert act(make, doc, plan, "extend", days=3, reason="later").status_code == 200
    assert act(make, doc, plan, "cancel", reason="not now").status_code == 200
    assert told(database, pat) == []


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> DeliveryReport:
        self.sent.append(message)
        return DeliveryReport(detail="recorded")

    def close(self) -> None:
        """Nothing to release."""


def test_the_message_is_dispatched_like_a_steps(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, _ = running(make, clock, database, kb)
    # The patient chose notifications that say which plan changed and how.
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        json={"notification_privacy": "detailed"},
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()
    notifier = Recording()
    jobs = Jobs(database=database, kb=kb, notifier=notifier, policy=ReminderPolicy(), clock=clock)
    act(make, doc, plan, "pause", reason="flu")
    jobs.dispatch()
    kinds = {m.kind for m in notifier.sent}
    assert {"taper-step", "taper-changed"} <= kinds
    (paused,) = [m for m in notifier.sent if m.title == "Your diazepam taper is paused"]
    assert paused.recipient_id == str(pat.id)
    assert paused.data["plan_id"] == plan["id"]
