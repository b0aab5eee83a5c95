"""Failed-login pacing: 429 with Retry-After, one counter for every worker.

Each worker is modelled as its own app (own engine, own services) on the same
database, or on the same Redis when `redis_url` is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service import create_app
from service.config import Settings
from service.db.throttle import hashed_key
from tests.conftest import Builders, FrozenClock

REDIS_URL = "redis://127.0.0.1:6379/15"
REDIS_PREFIX = "medtrack:login-failures:"


def login(client: FlaskClient, email: str, password: str) -> TestResponse:
    return client.post("/v1/auth/token", json={"email": email, "password": password})


def assert_throttled(r: TestResponse, settings: Settings) -> int:
    assert r.status_code == 429, r.get_data(as_text=True)
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == 429
    assert "access_token" not in body
    raw = r.headers.get("Retry-After")
    assert raw is not None
    assert raw.isdigit(), raw
    wait = int(raw)
    assert 0 < wait <= settings.login_window_seconds
    return wait


def fail(client: FlaskClient, email: str, times: int) -> None:
    for _ in range(times):
        r = login(client, email, "definitely not the password")
        assert r.status_code == 401, r.get_json()


@contextmanager
def worker(settings: Settings, clock: FrozenClock) -> Iterator[Flask]:
    """Another API process on the same store, sharing the test's clock."""
    application = create_app(settings)
    services = application.extensions["medtrack"]
    application.extensions["medtrack"] = replace(services, clock=clock)
    try:
        yield application
    finally:
        services.db.dispose()


def test_repeated_failures_from_one_client_wait_longer_each_time(
    make: Builders, settings: Settings, clock: FrozenClock
) -> None:
    doc = make.clinician()
    fail(make.client, doc.email, settings.login_max_failures)
    # From this client, even the right password now waits: 1 s, then 2 s, 4 s...
    for expected in (1, 2, 4):
        assert assert_throttled(login(make.client, doc.email, doc.password), settings) == expected
        clock.advance(seconds=expected)
        assert login(make.client, doc.email, "wrong again").status_code == 401
    clock.advance(seconds=8)
    assert login(make.client, doc.email, doc.password).status_code == 200


def test_one_short_of_the_limit_is_not_throttled(make: Builders, settings: Settings) -> None:
    doc = make.clinician()
    fail(make.client, doc.email, settings.login_max_failures - 1)
    assert login(make.client, doc.email, doc.password).status_code == 200


def test_throttle_is_per_account(make: Builders, settings: Settings) -> None:
    doc = make.clinician()
    colleague = make.clinician()
    fail(make.client, doc.email, settings.login_max_failures)
    assert_throttled(login(make.client, doc.email, doc.password), settings)
    assert login(make.client, colleague.email, colleague.password).status_code == 200


def test_unknown_email_is_throttled_like_a_known_one(
    client: FlaskClient, settings: Settings
) -> None:
    email = "nobody-at-all@example.org"
    fail(client, email, settings.login_max_failures)
    assert_throttled(login(client, email, "anything at all"), settings)


def test_counter_is_shared_by_workers_on_one_database(
    make: Builders, settings: Settings, clock: FrozenClock
) -> None:
    doc = make.clinician()
    with worker(settings, clock) as second:
        other = second.test_client()
        first_share = settings.login_max_failures // 2
        fail(make.client, doc.email, first_share)
        fail(other, doc.email, settings.login_max_failures - first_share)
        # Neither worker alone saw the limit, yet both refuse.
        assert_throttled(login(other, doc.email, doc.password), settings)
        assert_throttled(login(make.client, doc.email, doc.password), settings)
        clock.advance(seconds=settings.login_window_seconds + 1)
        assert login(other, doc.email, doc.password).status_code == 200


def test_success_resets_the_account_counter(make: Builders, settings: Settings) -> None:
    doc = make.clinician()
    below = settings.login_max_failures - 1
    fail(make.client, doc.email, below)
    assert login(make.client, doc.email, doc.password).status_code == 200
    # Without the reset these would add up to more than the limit.
    fail(make.client, doc.email, below)
    assert login(make.client, doc.email, doc.password).status_code == 200


def test_failures_are_audited(make: Builders, settings: Settings, count_rows: Any) -> None:
    doc = make.clinician()
    before = count_rows("audit_events")
    fail(make.client, doc.email, 2)
    assert count_rows("audit_events") == before + 2


# --- Redis (MEDTRACK_REDIS_URL) -------------------------------------------------------


def _flush_login_keys(client: Any) -> None:
    for key in client.scan_iter(match=f"{REDIS_PREFIX}*"):
        client.delete(key)


@pytest.fixture
def redis_client() -> Iterator[Any]:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc.__class__.__name__})")
    _flush_login_keys(client)
    yield client
    _flush_login_keys(client)
    client.close()


def test_counter_is_shared_by_workers_through_redis(
    make: Builders,
    settings: Settings,
    clock: FrozenClock,
    redis_client: Any,
    count_rows: Any,
) -> None:
    doc = make.clinician()
    database_rows = count_rows("login_failures")  # from the builder's own login
    redis_settings = replace(settings, redis_url=REDIS_URL)
    # The test client's address: this account from this client.
    key = f"{REDIS_PREFIX}{hashed_key(f'login-pair:{doc.email}|127.0.0.1')}"
    limit = settings.login_max_failures
    with worker(redis_settings, clock) as one, worker(redis_settings, clock) as two:
        a, b = one.test_client(), two.test_client()
        # A success clears the client's count for the account in Redis.
        fail(a, doc.email, limit - 1)
        assert int(redis_client.hget(key, "count")) == limit - 1
        assert login(b, doc.email, doc.password).status_code == 200
        assert redis_client.exists(key) == 0
        # Failures spread over two workers add up in one counter.
        fail(a, doc.email, limit // 2)
        fail(b, doc.email, limit - limit // 2)
        assert int(redis_client.hget(key, "count")) == limit
        # Kept for a quiet window after the wait the last failure set (1 s).
        ttl = int(redis_client.ttl(key))
        assert 0 < ttl <= settings.login_window_seconds + 1
        assert_throttled(login(a, doc.email, doc.password), settings)
        assert_throttled(login(b, doc.email, doc.password), settings)
    # The counters lived in Redis, not in the database.
    assert count_rows("login_failures") == database_rows
