"""Every console route, walked from the app's URL map: none answers without a
sign-in, none shows or changes another care team's patient (a 404, audited as
the API audits one), and the admin pages are for administrators only.

A route added later is covered without touching this file; one that breaks the
rule fails here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from service.db.uow import Database
from tests.conftest import Builders
from tests.console.conftest import Console

# Signed-out pages: signing in, and the stylesheet and vendored script.
PUBLIC = {"console.login", "console.static", "console.logout"}
# Settings in, a chart out: the preview reads no patient record (as the API's
# POST /v1/tapers/preview reads none), so it has nothing of another team's to show.
NO_PATIENT_READ = {"console.taper_preview"}


def console_routes(app: Flask) -> Iterator[tuple[str, str, str]]:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint in PUBLIC:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, rule.endpoint


def fill(rule: str, **ids: uuid.UUID) -> str:
    """The rule with its parameters filled: the given ids, fresh ones otherwise."""
    path = rule.replace(
        "<any(approve, pause, resume, extend, 'step-back', cancel):action>", "pause"
    )
    for name in ("patient_id", "plan_id", "user_id", "clinician_id"):
        path = path.replace(f"<uuid:{name}>", str(ids.get(name, uuid.uuid4())))
    assert "<" not in path, path
    return path


def refusals(database: Database, patient_id: uuid.UUID) -> int:
    pid = patient_id.hex if database.engine.dialect.name == "sqlite" else patient_id
    with database.engine.connect() as conn:
        query = text("SELECT count(*) FROM audit_events WHERE patient_id = :p AND outcome <> '0'")
        return int(conn.execute(query, {"p": pid}).scalar_one())


def test_the_walk_covers_the_console(app: Flask) -> None:
    endpoints = {e for _, _, e in console_routes(app)}
    assert {"console.worklist", "console.patient_chart", "console.prescribe"} <= endpoints
    assert {"console.taper_action", "console.staff", "console.care_team"} <= endpoints


def test_nothing_answers_without_a_sign_in(app: Flask, console: Console) -> None:
    console.get("/console/login")
    for method, rule, _ in console_routes(app):
        path = fill(rule)
        r = console.get(path) if method == "GET" else console.post(path, {})
        assert r.status_code == 302, (method, path, r.status_code)
        assert r.headers["Location"].startswith("/console/login"), (method, path)
        r = console.htmx(method, path)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["HX-Redirect"] == "/console/login"


def test_another_care_teams_patient_is_not_found_and_the_refusal_audited(
    app: Flask, console: Console, make: Builders, database: Database
) -> None:
    owner, stranger = make.clinician(), make.clinician()
    pat = make.patient(owner)
    assert pat.patient_id is not None
    rx = make.prescription(owner, pat)
    assert console.sign_in(stranger).status_code == 302
    console.get("/console/")
    checked = 0
    for method, rule, endpoint in console_routes(app):
        if "<uuid:patient_id>" not in rule or endpoint in NO_PATIENT_READ:
            continue
        if endpoint in {"console.care_team", "console.add_care_team_member"} or (
            endpoint == "console.remove_care_team_member"
        ):
            continue  # administrators' pages: refused as such below
        before = refusals(database, pat.patient_id)
        path = fill(rule, patient_id=pat.patient_id, plan_id=uuid.UUID(rx["id"]))
        r = console.get(path) if method == "GET" else console.post(path, {"reason": "x"})
        if r.status_code == 422:
            # The form is checked before the record is looked up, as the API checks a
            # body first: nothing of the patient's is in the answer.
            assert pat.email not in r.get_data(as_text=True), (method, path)
            continue
        assert r.status_code == 404, (method, path, r.status_code)
        assert refusals(database, pat.patient_id) == before + 1, (method, path)
        checked += 1
    assert checked >= 7


@pytest.mark.parametrize("role", ["clinician", "admin"])
def test_the_admin_pages_are_for_administrators_only(
    app: Flask, console: Console, make: Builders, role: str
) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    assert pat.patient_id is not None
    who = doc if role == "clinician" else make.admin()
    assert console.sign_in(who).status_code == 302
    console.get("/console/")
    for method, rule, _ in console_routes(app):
        if not rule.startswith("/console/admin"):
            continue
        path = fill(rule, patient_id=pat.patient_id, user_id=doc.id, clinician_id=doc.id)
        r = console.get(path) if method == "GET" else console.post(path, {})
        if role == "clinician":
            assert r.status_code == 403, (method, path, r.status_code)
        else:
            assert r.status_code < 500, (method, path, r.status_code)


def test_an_unknown_console_address_is_a_page_and_the_apis_stays_json(console: Console) -> None:
    r = console.get("/console/no-such-page")
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert "Not found" in r.get_data(as_text=True)
    r = console.client.delete("/console/patients")
    assert r.status_code == 405
    assert r.mimetype == "text/html"
    r = console.client.get("/v1/no-such-resource")
    assert r.status_code == 404
    assert r.get_json()["code"] == 404
    r = console.client.get("/consoled")
    assert r.get_json()["code"] == 404
