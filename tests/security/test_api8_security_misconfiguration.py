"""API8 Security Misconfiguration: headers on every response, nothing internal in
errors, no cross-origin access, nothing served that is not the API.

Configuration checks (production refuses the development secret key and short ones)
are in tests/unit/test_config.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service import create_app
from service.config import DEV_SECRET_KEY, Settings
from service.usecases import users
from tests.conftest import Builders, FrozenClock
from tests.security.world import World, assert_error, build_world


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


def _responses(make: Builders, w: World, settings: Settings) -> dict[str, TestResponse]:
    c, h = make.client, w.patient.headers
    window = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-30T00:00:00Z"}
    huge = json.dumps({"email": "a@example.org", "password": "x" * settings.max_body_bytes})
    return {
        "json": c.get("/v1/me", headers=h),
        "svg": c.get(f"/v1/taper-plans/{w.plan_id}/chart.svg", headers=h),
        "csv": c.get(f"/v1/patients/{w.patient_id}/adherence.csv", query_string=window, headers=h),
        "created": c.post("/v1/me/devices", json={"platform": "fcm", "token": "t-2"}, headers=h),
        "no content": c.delete(f"/v1/me/devices/{w.device_id}", headers=h),
        "401": c.get("/v1/me"),
        "403": c.get("/v1/users", headers=h),
        "404 object": c.get(f"/v1/taper-plans/{w.dose_id}", headers=h),
        "404 route": c.get("/v1/nowhere"),
        "405": c.delete("/v1/me", headers=h),
        "413": c.post("/v1/auth/token", data=huge, content_type="application/json"),
        "422": c.post("/v1/auth/token", json={}),
        "spec": c.get("/openapi.json"),
        "probe": c.get("/healthz"),
    }


def test_every_response_carries_the_security_headers(
    make: Builders, world: World, settings: Settings
) -> None:
    for kind, r in _responses(make, world, settings).items():
        expected = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        got = {name: r.headers.get(name) for name in expected}
        assert got == expected, kind
        csp = r.headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'none'"), kind
        assert "frame-ancestors 'none'" in csp, kind
        assert "Strict-Transport-Security" not in r.headers, "plain HTTP: no HSTS"
        assert r.headers.get("X-Request-ID"), kind
        assert "Access-Control-Allow-Origin" not in r.headers, kind


def test_the_chart_is_an_svg_that_can_run_nothing(make: Builders, world: World) -> None:
    r = make.client.get(f"/v1/taper-plans/{world.plan_id}/chart.svg", headers=world.doc.headers)
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.get_data())  # noqa: S314 (the service's own output)
    elements = list(root.iter())
    assert len(elements) > 10
    for element in elements:
        assert element.tag.rsplit("}", 1)[-1] not in ("script", "foreignObject", "image", "use")
        for name in element.attrib:
            local = name.rsplit("}", 1)[-1].lower()
            assert not local.startswith("on"), (element.tag, name)
            assert local != "href", (element.tag, name)
    assert "script-src" not in r.headers["Content-Security-Policy"]


def _directive(csp: str, name: str) -> list[str]:
    for directive in csp.split(";"):
        words = directive.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"no {name} in {csp!r}")


def test_the_docs_may_run_only_their_own_scripts(client: FlaskClient) -> None:
    for path in ("/docs", "/docs/assets/swagger-ui-bundle.js"):
        r = client.get(path)
        assert r.status_code == 200
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "'unsafe-inline'" not in _directive(csp, "script-src")
        assert "connect-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_the_docs_page_has_no_inline_script_and_runs_only_this_origins(
    client: FlaskClient,
) -> None:
    r = client.get("/docs")
    page = r.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert scripts, "Swagger UI is loaded by script elements"
    for attributes, body in scripts:
        assert re.fullmatch(r' src="/docs/[\w./-]+"', attributes), attributes
        assert body.strip() == ""
    assert not re.search(r"\son\w+\s*=", page, re.IGNORECASE), "no inline event handler"
    for path in ("/docs", "/docs/start.js", "/docs/assets/swagger-ui-bundle.js"):
        csp = client.get(path).headers["Content-Security-Policy"]
        assert _directive(csp, "script-src") == ["'self'"]
    start = client.get("/docs/start.js")
    assert start.status_code == 200
    assert start.mimetype == "text/javascript"
    assert start.headers["X-Content-Type-Options"] == "nosniff"
    assert "/openapi.json" in start.get_data(as_text=True)


@pytest.fixture
def proxied(settings: Settings) -> Iterator[Flask]:
    """The app behind one trusted reverse proxy (MEDTRACK_TRUSTED_PROXIES=1)."""
    app = create_app(dataclasses.replace(settings, trusted_proxies=1))
    yield app
    app.extensions["medtrack"].db.dispose()


def test_hsts_is_sent_over_tls_only(app: Flask, proxied: Flask) -> None:
    hsts = "max-age=31536000; includeSubDomains"
    direct = app.test_client()
    assert (
        direct.get("/v1/me", base_url="https://api.example.org").headers.get(
            "Strict-Transport-Security"
        )
        == hsts
    )
    assert "Strict-Transport-Security" not in direct.get("/v1/me").headers
    # A client cannot claim TLS through a header unless a trusted proxy sets it.
    forged = direct.get("/v1/me", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers
    behind = proxied.test_client().get("/v1/me", headers={"X-Forwarded-Proto": "https"})
    assert behind.headers.get("Strict-Transport-Security") == hsts


def test_an_unexpected_error_says_nothing_about_its_cause(
    make: Builders, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = make.clinician()

    def broken(**_: object) -> None:
        raise RuntimeError("connection to db-internal.example:5432 refused for user medtrack")

    monkeypatch.setattr(users, "get_me", broken)
    r = make.client.get("/v1/me", headers=doc.headers)
    body = assert_error(r, 500)
    assert body["message"] == "An unexpected error occurred; it has been logged."
    raw = r.get_data(as_text=True)
    for leak in ("db-internal", "RuntimeError", "Traceback", "medtrack/", ".py"):
        assert leak not in raw
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_no_cross_origin_access_is_granted(make: Builders) -> None:
    doc = make.clinician()
    origin = {"Origin": "https://evil.example"}
    r = make.client.get("/v1/me", headers={**doc.headers, **origin})
    assert r.status_code == 200
    preflight = make.client.options(
        "/v1/me",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    for answer in (r, preflight):
        assert not [n for n, _ in answer.headers.items() if n.startswith("Access-Control-")]


def test_nothing_is_served_from_a_static_folder(app: Flask, client: FlaskClient) -> None:
    assert "static" not in app.view_functions
    assert_error(client.get("/static/README.md"), 404)


def test_unknown_methods_are_405_in_the_error_shape(client: FlaskClient) -> None:
    for method in ("TRACE", "PUT", "CONNECT"):
        r = client.open("/v1/auth/token", method=method)
        assert_error(r, 405)
        assert "POST" in r.headers["Allow"]


def test_the_app_never_runs_in_debug_mode(app: Flask) -> None:
    assert app.debug is False
    assert app.config["PROPAGATE_EXCEPTIONS"] in (None, False)


def test_secrets_stay_out_of_the_settings_repr(settings: Settings) -> None:
    shown = repr(
        dataclasses.replace(
            settings, webhook_secret="whsec-0123456789abcdef", vapid_private_key="vapid-key-x"
        )
    )
    for secret in (settings.secret_key, "whsec-0123456789abcdef", "vapid-key-x"):
        assert secret not in shown
    assert DEV_SECRET_KEY not in repr(Settings())
