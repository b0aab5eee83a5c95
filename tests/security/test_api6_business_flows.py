"""API6 Unrestricted Access to Sensitive Business Flows.

The flows worth automating against medtrack are guessing: passwords (per account:
tests/api/test_auth_rate_limit.py; sprayed over many accounts from one address: here)
and one-time activation codes (here). The clinical flows carry their own limits, tested
with them: as-needed doses per 24 h and minimum interval (tests/api/test_doses_api.py),
snoozes per dose, devices per account, interaction overrides that need a reason and are
audited, abrupt stops of withdrawal-risk drugs that need a reason.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from service.config import Settings
from tests.conftest import PASSWORD, Builders, settings_for
from tests.security.world import assert_error

ATTACKER = {"REMOTE_ADDR": "203.0.113.66"}
SOMEONE_ELSE = {"REMOTE_ADDR": "198.51.100.7"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """A low limit keeps the number of requests small: 2 per account, 20 per address."""
    return settings_for(database_url, login_max_failures=2)


def test_guessing_activation_codes_from_one_address_is_throttled(
    make: Builders, settings: Settings
) -> None:
    doc = make.clinician()
    r = make.client.post(
        "/v1/patients",
        json={
            "name": "Kim",
            "email": "kim@example.org",
            "timezone": "Europe/London",
            "date_of_birth": "1990-01-01",
        },
        headers=doc.headers,
    )
    code = r.json["activation_code"]  # type: ignore[index]
    limit = settings.login_client_max_failures
    attacker = make.app.test_client()
    attacker.environ_base.update(ATTACKER)
    for n in range(limit):
        guess = attacker.post(
            "/v1/auth/activate",
            json={"activation_code": f"AAAA-BBBB-{n:04d}", "password": PASSWORD},
        )
        assert_error(guess, 422)
    # Over the limit even the right code is refused, and not used up.
    throttled = attacker.post(
        "/v1/auth/activate", json={"activation_code": code, "password": PASSWORD}
    )
    assert_error(throttled, 429)
    assert int(throttled.headers["Retry-After"]) > 0
    elsewhere = make.app.test_client()
    elsewhere.environ_base.update(SOMEONE_ELSE)
    r = elsewhere.post("/v1/auth/activate", json={"activation_code": code, "password": PASSWORD})
    assert r.status_code == 200, r.json


def test_spraying_one_password_over_many_accounts_is_throttled_per_address(
    make: Builders, settings: Settings
) -> None:
    doc = make.clinician()
    limit = settings.login_client_max_failures
    attacker = make.app.test_client()
    attacker.environ_base.update(ATTACKER)
    for n in range(limit):
        # Each account sees one failure: below its own limit.
        r = attacker.post(
            "/v1/auth/token", json={"email": f"user{n}@example.org", "password": "Winter2026!"}
        )
        assert_error(r, 401)
    body = {"email": doc.email, "password": doc.password}
    assert_error(attacker.post("/v1/auth/token", json=body), 429)
    elsewhere: FlaskClient = make.app.test_client()
    elsewhere.environ_base.update(SOMEONE_ELSE)
    assert elsewhere.post("/v1/auth/token", json=body).status_code == 200
