"""Failed logins slow the guessing client down, never the account's owner.

Each client is a test client with its own REMOTE_ADDR; the attacker waits out
every Retry-After, so their guesses really reach the password check.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from service.config import Settings
from service.db.uow import Database
from tests.conftest import Builders, FrozenClock, settings_for

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def login(client: FlaskClient, ip: str, email: str, password: str) -> TestResponse:
    return client.post(
        "/v1/auth/token",
        json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": ip},
    )


def guess(client: FlaskClient, clock: FrozenClock, ip: str, email: str, times: int) -> int:
    """Wrong passwords from one address, waiting whenever told to; how many were checked."""
    checked = 0
    for _ in range(times):
        r = login(client, ip, email, "not the password at all")
        if r.status_code == 429:
            clock.advance(seconds=int(r.headers["Retry-After"]))
        else:
            assert r.status_code == 401, r.get_json()
            checked += 1
    return checked


def test_an_attackers_100_wrong_passwords_do_not_stop_the_owner(
    make: Builders, clock: FrozenClock
) -> None:
    doc = make.clinician()
    start = clock.now
    guess(make.client, clock, ATTACKER, doc.email, 100)
    # Every wait doubled, up to the maximum: the guesses took the attacker hours.
    assert clock.now - start > dt.timedelta(hours=4)
    # The attacker is being held back at this moment...
    login(make.client, ATTACKER, doc.email, "one more guess")
    assert login(make.client, ATTACKER, doc.email, doc.password).status_code == 429
    # ...and the owner, from their own client, is not.
    r = login(make.client, OWNER, doc.email, doc.password)
    assert r.status_code == 200, r.get_json()


def test_the_owner_is_not_held_up_even_in_the_middle_of_an_attack(
    make: Builders, clock: FrozenClock
) -> None:
    doc = make.clinician()
    for _ in range(20):
        login(make.client, ATTACKER, doc.email, "wrong")
    assert login(make.client, OWNER, doc.email, "a typo by the owner").status_code == 401
    assert login(make.client, OWNER, doc.email, doc.password).status_code == 200


def test_a_success_from_a_client_clears_its_count(
    make: Builders, settings: Settings, clock: FrozenClock
) -> None:
    doc = make.clinician()
    guess(make.client, clock, OWNER, doc.email, settings.login_max_failures + 2)
    r = login(make.client, OWNER, doc.email, doc.password)
    assert r.status_code == 429
    clock.advance(seconds=int(r.headers["Retry-After"]))
    assert login(make.client, OWNER, doc.email, doc.password).status_code == 200
    # A known device again: its next typos are free.
    for _ in range(settings.login_max_failures):
        assert login(make.client, OWNER, doc.email, "typo").status_code == 401


@pytest.fixture
def capped(database_url: str, clock: FrozenClock) -> Any:
    from dataclasses import replace

    from service import create_app

    application: Flask = create_app(
        settings_for(database_url, login_client_max_failures=8, login_max_failures=5)
    )
    services = application.extensions["medtrack"]
    application.extensions["medtrack"] = replace(services, clock=clock)
    yield application
    services.db.dispose()


def test_one_client_cannot_spray_many_accounts(
    capped: Flask, make: Builders, clock: FrozenClock
) -> None:
    client = capped.test_client()
    accounts = [make.clinician() for _ in range(5)]
    for account in accounts[:4]:
        for _ in range(2):
            assert login(client, ATTACKER, account.email, "guess").status_code == 401
    # Eight failures over four accounts: this client is refused on any account...
    fresh = accounts[4]
    r = login(client, ATTACKER, fresh.email, fresh.password)
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    # ...and every other client is not.
    assert login(client, OWNER, fresh.email, fresh.password).status_code == 200


def test_a_sprayer_behind_a_shared_address_does_not_keep_its_regulars_out(
    capped: Flask, make: Builders, clock: FrozenClock
) -> None:
    """A clinic's NAT: a colleague who has signed in from it before still gets in
    while someone behind the same address sprays guesses over other accounts."""
    client = capped.test_client()
    clinic = "192.0.2.44"
    regular, newcomer = make.clinician(), make.clinician()
    assert login(client, clinic, regular.email, regular.password).status_code == 200
    for target in [make.clinician() for _ in range(5)]:
        for _ in range(2):
            login(client, clinic, target.email, "guess")
    assert login(client, clinic, regular.email, regular.password).status_code == 200
    # An account never signed in from there waits out the window (or signs in elsewhere).
    assert login(client, clinic, newcomer.email, newcomer.password).status_code == 429


@pytest.mark.parametrize(
    ("first", "same_network", "other_network"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:3::1"),
        ("203.0.113.9", "::ffff:203.0.113.9", "203.0.113.10"),
    ],
)
def test_ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4(
    make: Builders, settings: Settings, first: str, same_network: str, other_network: str
) -> None:
    doc = make.clinician()
    addresses = [first, same_network]
    for n in range(settings.login_max_failures):
        assert login(make.client, addresses[n % 2], doc.email, "guess").status_code == 401
    # Rotating addresses within one /64 (or one IPv4 client behind a mapped address)
    # is still one client...
    assert login(make.client, same_network, doc.email, doc.password).status_code == 429
    assert login(make.client, first, doc.email, doc.password).status_code == 429
    # ...while the next network is another client.
    assert login(make.client, other_network, doc.email, doc.password).status_code == 200


def test_the_owner_is_told_of_repeated_failures(
    make: Builders, settings: Settings, clock: FrozenClock, database: Database
) -> None:
    doc = make.clinician()
    guess(make.client, clock, ATTACKER, doc.email, settings.login_max_failures * 2)
    r = make.client.get("/v1/me/notices", headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    notices = r.get_json()
    # Once per window, not once per guess.
    assert [n["kind"] for n in notices] == ["login-failures"]
    assert notices[0]["source"] == ATTACKER
    assert str(settings.login_max_failures) in notices[0]["message"]
    with database.engine.connect() as conn:
        audited = conn.execute(
            text(
                "SELECT count(*) FROM audit_events "
                "WHERE subtype = 'login.repeated-failures' AND entity_id = :id"
            ),
            {"id": str(doc.id)},
        ).scalar_one()
    assert audited == 1
    # Another account's owner is told nothing.
    other = make.clinician()
    assert make.client.get("/v1/me/notices", headers=other.headers).get_json() == []
