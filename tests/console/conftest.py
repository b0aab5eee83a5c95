"""Console fixtures: a browser-like client signed in through the sign-in form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import Account, Builders

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    """A test client that keeps the console's cookie and sends its CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        r = self.client.get(path, **kwargs)
        found = _TOKEN.search(r.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return r

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> TestResponse:
        if not self.token:
            self.get("/console/login")
        form = {"csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=form, **kwargs)

    def htmx(self, method: str, path: str, data: dict[str, Any] | None = None) -> TestResponse:
        """What htmx sends: the HX-Request header and the token in X-CSRFToken."""
        if not self.token:
            self.get("/console/login")
        headers = {"HX-Request": "true", "X-CSRFToken": self.token}
        if method == "GET":
            return self.client.get(path, query_string=data or {}, headers=headers)
        return self.client.post(path, data=data or {}, headers=headers)

    def sign_in(self, account: Account) -> TestResponse:
        self.get("/console/login")
        return self.post("/console/login", {"email": account.email, "password": account.password})


@pytest.fixture
def console(app: Any) -> Console:
    return Console(app.test_client())


@pytest.fixture
def signed_in(console: Console, make: Builders) -> tuple[Console, Account]:
    """A clinician signed in to the console."""
    doc = make.clinician()
    r = console.sign_in(doc)
    assert r.status_code == 302, r.get_data(as_text=True)
    return console, doc


_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?")


def neutral(value: Any) -> Any:
    """A stored audit value with what differs between two patients (ids, instants) masked."""
    if isinstance(value, dict):
        return {k: neutral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [neutral(v) for v in value]
    if isinstance(value, str):
        return _INSTANT.sub("<instant>", _UUID.sub("<id>", value))
    return value


def audited_writes(database: Any, patient_id: Any) -> list[dict[str, Any]]:
    """The patient's audit trail without reads, request ids or addresses, ids masked:
    what a write through the console must leave exactly as the API's does."""
    from sqlalchemy import text

    pid = patient_id.hex if database.engine.dialect.name == "sqlite" else patient_id
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, subtype, outcome, outcome_desc, actor_role, entity_type, "
                "before, after FROM audit_events WHERE patient_id = :p AND action <> 'R' "
                "ORDER BY id"
            ),
            {"p": pid},
        ).mappings()
        return [neutral(dict(r)) for r in rows]
