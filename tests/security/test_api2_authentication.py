"""API2 Broken Authentication: what tests/api/test_auth.py, test_auth_rate_limit.py,
test_hardening.py and tests/unit/test_security.py do not already show.

Token expiry, revocation on logout, forged and re-signed tokens, `alg: none`, Argon2id
hashing and the failed-login limit per account are tested there (see SECURITY.md).
"""

from __future__ import annotations

import jwt
from flask.testing import FlaskClient

from service.config import Settings
from tests.conftest import Builders
from tests.security.world import assert_error


def test_a_token_is_only_read_from_the_authorization_header(make: Builders) -> None:
    doc = make.clinician()
    token = doc.headers["Authorization"].removeprefix("Bearer ")
    for query in ({"access_token": token}, {"token": token}):
        r = make.client.get("/v1/me", query_string=query)
        assert_error(r, 401)
    r = make.client.get("/v1/me", headers={"Cookie": f"access_token={token}"})
    assert_error(r, 401)
    assert make.client.get("/v1/me", headers=doc.headers).status_code == 200


def test_the_role_comes_from_the_account_not_from_the_token(
    make: Builders, settings: Settings
) -> None:
    """Even a token re-signed with the server's own key cannot raise its bearer's role."""
    doc = make.clinician()
    token = doc.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["role"] == "clinician"
    promoted = jwt.encode({**claims, "role": "admin"}, settings.secret_key, algorithm="HS256")
    headers = {"Authorization": f"Bearer {promoted}"}
    assert make.client.get("/v1/me", headers=headers).json["role"] == "clinician"  # type: ignore[index]
    assert_error(make.client.get("/v1/users", headers=headers), 403)


def test_an_oversized_bearer_token_is_refused_unread(client: FlaskClient) -> None:
    r = client.get("/v1/me", headers={"Authorization": "Bearer " + "a" * 5000})
    assert_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
