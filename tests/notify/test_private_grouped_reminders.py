"""Reminders end to end on the local fakes of every channel at once: Web Push (the
browser decrypts what the fake push service received), FCM (a fake Google) and the
signed webhook, all three run by one ChannelRouter against a real database.

A patient takes escitalopram and diazepam at 08:00 New York time; each channel's fake
must receive one notification for the two doses, and with the default discreet
privacy no drug, dose or patient id in anything it received.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import text

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.notify.channels import ChannelRouter
from service.notify.fcm import FcmNotifier
from service.notify.webhook import WebhookNotifier
from service.notify.webpush import WebPushNotifier
from service.usecases.dispatch import dispatch_due
from service.usecases.reminders import ReminderPolicy
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.notify.fake_http import FakeServer, Reply, Serve
from tests.notify.test_fcm import SEND_PATH, fake_google, service_account
from tests.notify.test_webpush import Browser, b64url

SECRET = "a-webhook-secret-for-tests-only"
POLICY = ReminderPolicy()
DRUGS = ("escitalopram", "diazepam")
ADVICE = {"text": "Take it when you remember unless the next dose is near.", "source": "x"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


@dataclass
class Fakes:
    push: FakeServer
    google: FakeServer
    hooks: FakeServer
    browser: Browser

    def received(self) -> dict[str, list[bytes]]:
        """What each channel's fake received, decrypted where the browser would."""
        return {
            "webpush": [self.browser.decrypt(r.body) for r in self.push.requests],
            "fcm": [r.body for r in self.google.requests if r.path == SEND_PATH],
            "webhook": [r.body for r in self.hooks.requests],
        }


@pytest.fixture
def fakes(serve: Serve) -> Fakes:
    return Fakes(
        push=serve(lambda _: Reply(status=201)),
        google=serve(fake_google()),
        hooks=serve(lambda _: Reply(status=204)),
        browser=Browser.new(),
    )


@pytest.fixture
def router(fakes: Fakes, tmp_path: Path) -> Iterator[ChannelRouter]:
    vapid = ec.generate_private_key(ec.SECP256R1())
    raw = vapid.private_numbers().private_value.to_bytes(32, "big")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = service_account(tmp_path, key, fakes.google.url + "/token")
    made = ChannelRouter(
        {
            "webpush": WebPushNotifier(
                vapid_private_key=b64url(raw), vapid_subject="mailto:ops@example.org"
            ),
            "fcm": FcmNotifier(credentials_file=account, endpoint=fakes.google.url),
            "webhook": WebhookNotifier(url=fakes.hooks.url + "/hooks", secret=SECRET),
        }
    )
    yield made
    made.close()


def _patient(make: Builders, clock: FrozenClock, database: Database, fakes: Fakes) -> Account:
    """Two drugs at 08:00 in New York, and a device on each channel."""
    clock.now = dt.datetime(2026, 6, 10, 11, tzinfo=dt.UTC)
    doc = make.clinician()
    pat = make.patient(doc, timezone="America/New_York")
    for drug, amount in zip(DRUGS, (10, 2.5), strict=True):
        make.prescription(
            doc,
            pat,
            drug=drug,
            dose={"amount": amount, "unit": "mg"},
            schedule={"times": ["08:00"], "as_needed": False},
            start_date="2026-06-10",
        )
    # Stored directly: registration accepts only real push services, not loopback.
    web = fakes.browser.device("unused", fakes.push.url + "/push/sub-1")
    with database.uow() as uow:
        for platform, endpoint, token, keys in (
            ("webpush", web.endpoint, None, dict(web.keys)),
            ("fcm", None, "dAndroidFid0123456789_", {}),
            ("webhook", fakes.hooks.url + "/route/ada", None, {}),
        ):
            uow.devices.add_device(
                user_id=pat.id,
                platform=platform,
                endpoint=endpoint,
                token=token,
                keys=keys,
                label=None,
                now=clock(),
            )
        uow.commit()
    return pat


Run = Callable[..., None]


@pytest.fixture
def run(database: Database, clock: FrozenClock, router: ChannelRouter) -> Run:
    jobs = Jobs(database=database, kb=knowledge.load(), notifier=router, policy=POLICY, clock=clock)

    def tick(at: str, **options: Any) -> None:
        clock.now = dt.datetime.fromisoformat(at)
        jobs.materialise()
        jobs.follow_up()
        jobs.queue()
        dispatch_due(
            uow=database.uow(),
            clock=clock,
            notifier=router,
            policy=POLICY,
            worker="test",
            **options,
        )

    return tick


def _query(database: Database, sql: str) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _statuses(database: Database) -> list[tuple[Any, ...]]:
    return _query(database, "SELECT kind, status FROM notifications ORDER BY kind")


def test_discreet_doses_of_one_instant_go_once_per_channel_naming_no_drug(
    make: Builders, clock: FrozenClock, database: Database, fakes: Fakes, run: Run
) -> None:
    pat = _patient(make, clock, database, fakes)
    run("2026-06-10T12:00:00+00:00")
    received = fakes.received()
    assert {channel: len(bodies) for channel, bodies in received.items()} == {
        "webpush": 1,
        "fcm": 1,
        "webhook": 1,
    }
    for channel, (body,) in received.items():
        sent = body.decode()
        for secret in (*DRUGS, "10 mg", "2.5", str(pat.patient_id)):
            assert secret not in sent, (channel, secret)
    webpush = json.loads(received["webpush"][0])
    assert webpush["title"] == "Time for your 08:00 medicines"
    assert len(webpush["data"]["dose_ids"]) == 2
    fcm = json.loads(received["fcm"][0])["message"]
    assert fcm["notification"]["title"] == "Time for your 08:00 medicines"
    assert json.loads(fcm["data"]["payload"])["dose_ids"] == webpush["data"]["dose_ids"]
    hook = json.loads(received["webhook"][0])
    assert fakes.hooks.requests[0].path == "/route/ada", "the device's route on the gateway"
    assert hook["data"] == webpush["data"]
    assert "patient_id" not in hook
    assert _statuses(database) == [("dose-reminder", "sent"), ("dose-reminder", "sent")]


def test_detailed_names_the_drugs_with_numbers_as_numbers(
    make: Builders, clock: FrozenClock, database: Database, fakes: Fakes, run: Run
) -> None:
    pat = _patient(make, clock, database, fakes)
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        json={"notification_privacy": "detailed"},
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()
    run("2026-06-10T12:00:00+00:00")
    webpush = json.loads(fakes.received()["webpush"][0])
    assert webpush["title"] == "Time for your 08:00 medicines"
    assert webpush["body"] == "escitalopram 10 mg, diazepam 2.5 mg."
    doses = {d["drug"]: d["dose"] for d in webpush["data"]["doses"]}
    assert doses == {
        "escitalopram": {"amount": 10, "unit": "mg"},
        "diazepam": {"amount": 2.5, "unit": "mg"},
    }
    fcm = json.loads(fakes.received()["fcm"][0])["message"]
    assert json.loads(fcm["data"]["payload"])["doses"] == webpush["data"]["doses"]


def test_a_dose_logged_before_sending_drops_out_and_an_empty_group_is_not_sent(
    make: Builders, clock: FrozenClock, database: Database, fakes: Fakes, run: Run
) -> None:
    pat = _patient(make, clock, database, fakes)
    run("2026-06-10T11:55:00+00:00")  # both reminders queued, not yet due
    assert fakes.received()["webpush"] == []
    due = _query(database, "SELECT id FROM dose_events ORDER BY scheduled_at, drug LIMIT 2")
    due = [str(uuid.UUID(str(row[0]))) for row in due]
    r = make.client.post(f"/v1/doses/{due[0]}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    run("2026-06-10T12:00:00+00:00")
    (body,) = fakes.received()["webpush"]
    assert json.loads(body)["data"]["dose_ids"] == [due[1]]
    r = make.client.post(f"/v1/doses/{due[1]}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    run("2026-06-10T13:00:00+00:00")  # past the follow-up time: nothing open, nothing sent
    assert len(fakes.received()["webpush"]) == 1


def test_the_follow_up_for_two_missed_doses_is_one_message_with_advice_when_detailed(
    make: Builders, clock: FrozenClock, database: Database, fakes: Fakes, run: Run
) -> None:
    pat = _patient(make, clock, database, fakes)
    run("2026-06-10T12:00:00+00:00")
    run("2026-06-10T12:31:00+00:00")
    discreet = json.loads(fakes.received()["webpush"][1])
    assert discreet["kind"] == "dose-follow-up"
    assert discreet["title"] == "Did you take your 08:00 medicines?"
    assert "doses" not in discreet["data"]
    assert len(discreet["data"]["dose_ids"]) == 2

    make.client.patch(
        f"/v1/patients/{pat.patient_id}",
        json={"notification_privacy": "detailed"},
        headers=pat.headers,
    )
    advice = {"escitalopram": ADVICE}
    run("2026-06-11T12:00:00+00:00", advice=advice.get)
    run("2026-06-11T12:31:00+00:00", advice=advice.get)
    detailed = json.loads(fakes.received()["webpush"][3])
    assert detailed["kind"] == "dose-follow-up"
    by_drug = {d["drug"]: d["missed_dose_advice"] for d in detailed["data"]["doses"]}
    assert by_drug == {"escitalopram": ADVICE, "diazepam": None}
