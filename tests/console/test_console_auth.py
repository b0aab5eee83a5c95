"""Signing in to the console: the API's login (throttle, audit), a cookie scripts
cannot read, CSRF on every form, staff only, a strict Content Security Policy."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service.db.uow import Database
from tests.conftest import Account, Builders
from tests.console.conftest import Console


def test_sign_in_sets_a_strict_cookie_and_shows_the_worklist(
    console: Console, make: Builders
) -> None:
    doc = make.clinician()
    r = console.get("/console/")
    assert r.status_code == 302
    assert "/console/login" in r.headers["Location"]
    r = console.sign_in(doc)
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    r = console.get("/console/")
    assert r.status_code == 200
    assert "<h1>Worklist</h1>" in r.get_data(as_text=True)
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers["Cache-Control"] == "no-store"


def test_wrong_password_is_refused_and_audited_like_the_api(
    console: Console, make: Builders, database: Database
) -> None:
    doc = make.clinician()
    console.get("/console/login")
    r = console.post("/console/login", {"email": doc.email, "password": "not the password"})
    assert r.status_code == 401
    assert "Incorrect email or password." in r.get_data(as_text=True)
    with database.engine.connect() as conn:
        outcomes = conn.execute(
            text("SELECT outcome FROM audit_events WHERE subtype = 'login' ORDER BY id")
        ).scalars()
        # The builder's login through the API, then this failure, as the API records one.
        assert [str(o) for o in outcomes] == ["0", "4"]


def test_repeated_failures_are_throttled_by_the_api_rule(console: Console, make: Builders) -> None:
    doc = make.clinician()
    console.get("/console/login")
    statuses = [
        console.post("/console/login", {"email": doc.email, "password": "wrong"}).status_code
        for _ in range(8)
    ]
    assert 429 in statuses
    r = console.post("/console/login", {"email": doc.email, "password": "wrong"})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0


def test_a_form_without_its_csrf_token_is_refused(console: Console, make: Builders) -> None:
    doc = make.clinician()
    r = console.client.post("/console/login", data={"email": doc.email, "password": doc.password})
    assert r.status_code == 400
    assert "expired or came from elsewhere" in r.get_data(as_text=True)


def test_patients_cannot_use_the_console(console: Console, make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    r = console.sign_in(pat)
    assert r.status_code == 403
    assert "patients use the app" in r.get_data(as_text=True)
    assert console.get("/console/").status_code == 302


def test_sign_out_ends_the_session(signed_in: tuple[Console, Account]) -> None:
    console, _ = signed_in
    assert console.get("/console/").status_code == 200
    r = console.post("/console/logout")
    assert r.status_code == 302
    assert console.get("/console/").status_code == 302


def test_the_api_never_asks_for_a_csrf_token(make: Builders) -> None:
    doc = make.clinician()
    r = make.client.post("/v1/auth/token", json={"email": doc.email, "password": doc.password})
    assert r.status_code == 200


def test_the_vendored_script_is_served_by_the_app(console: Console) -> None:
    r = console.get("/console/static/vendor/htmx.min.js")
    assert r.status_code == 200
    assert b"htmx" in r.data[:2000]
    assert "max-age" in r.headers["Cache-Control"]


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/console/patients?q=ann", "/console/patients?q=ann"),
        ("//evil.example/console/", "/console/"),
        ("https://evil.example/console/", "/console/"),
        ("/console/\\evil.example", "/console/"),
        ("/console/../v1/me", "/console/"),
        ("/console/%0d%0aSet-Cookie:%20x=1", "/console/%0d%0aSet-Cookie:%20x=1"),
        ("/console/\r\nSet-Cookie: x=1", "/console/"),
        ("/console/\tx", "/console/"),
    ],
)
def test_after_sign_in_only_a_console_path_is_followed(
    console: Console, make: Builders, asked: str, sent_to: str
) -> None:
    doc = make.clinician()
    console.get("/console/login")
    r = console.post(
        "/console/login", {"email": doc.email, "password": doc.password, "next": asked}
    )
    assert r.status_code == 302
    assert r.headers["Location"] == sent_to
    # Signed in already: the sign-in page sends the same way.
    r = console.client.get("/console/login", query_string={"next": asked})
    assert r.status_code == 302
    assert r.headers["Location"] == sent_to
