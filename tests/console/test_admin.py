"""The console's admin pages: staff accounts and care teams, administrators only,
through the same use cases, refusals and audit entries as the JSON API."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from service.db.uow import Database
from tests.conftest import PASSWORD, Account, Builders
from tests.console.conftest import Console, audited_writes

NEW_PASSWORD = "a new colleague's long passphrase"


@pytest.fixture
def as_admin(console: Console, make: Builders) -> tuple[Console, Account]:
    """An administrator signed in to the console."""
    admin = make.admin()
    assert console.sign_in(admin).status_code == 302
    return console, admin


def _user_writes(database: Database, user_id: uuid.UUID, *masked: str) -> list[dict[str, Any]]:
    """The audit entries of changes to a staff account (they name no patient), ids and
    `masked` hidden."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, subtype, outcome, actor_role, entity_type, before, after "
                "FROM audit_events WHERE entity_type = 'User' AND entity_id = :u "
                "AND subtype LIKE 'user.%' ORDER BY id"
            ),
            {"u": str(user_id)},
        ).mappings()
        dumped = json.dumps([dict(r) for r in rows], default=str)
    for t in masked:
        dumped = dumped.replace(t, "<text>")
    return json.loads(dumped)  # type: ignore[no-any-return]


def _user_id(database: Database, email: str) -> uuid.UUID:
    with database.engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM users WHERE email = :e"), {"e": email})
        value = found.scalar_one()
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _masked(writes: list[dict[str, Any]], *texts: str) -> list[dict[str, Any]]:
    dumped = json.dumps(writes, default=str)
    for t in texts:
        dumped = dumped.replace(t, "<text>")
    return json.loads(dumped)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/admin/staff"),
        ("POST", "/console/admin/staff"),
        ("POST", f"/console/admin/staff/{uuid.uuid4()}/deactivate"),
        ("GET", "/console/admin/care-teams"),
    ],
)
def test_admin_pages_refuse_a_clinician(
    signed_in: tuple[Console, Account], database: Database, method: str, path: str
) -> None:
    console, _ = signed_in
    console.get("/console/")
    r = console.get(path) if method == "GET" else console.post(path, {"name": "x"})
    assert r.status_code == 403
    assert "Only administrators" in r.get_data(as_text=True)
    with database.engine.connect() as conn:
        refused = conn.execute(
            text("SELECT outcome_desc FROM audit_events WHERE subtype = 'access.denied'")
        ).scalars()
        assert list(refused) == [f"403 {method} {path}"]


def test_a_clinician_cannot_manage_a_care_team_of_their_own_patient(
    signed_in: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, doc = signed_in
    pat = make.patient(doc)
    assert pat.patient_id is not None
    console.get("/console/")
    r = console.post(
        f"/console/admin/care-teams/{pat.patient_id}/members", {"clinician_id": str(doc.id)}
    )
    assert r.status_code == 403
    refusals = [w for w in audited_writes(database, pat.patient_id) if str(w["outcome"]) != "0"]
    assert [w["outcome_desc"] for w in refusals] == [
        "403 POST /console/admin/care-teams/<id>/members"
    ]


def test_staff_accounts_are_created_and_switched_off_as_through_the_api(
    as_admin: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, admin = as_admin
    page = console.get("/console/admin/staff").get_data(as_text=True)
    assert "(you)" in page
    for label in ("Role", "Name", "E-mail", "Initial password"):
        assert f">{label}</label>" in page
    by_console, by_api = "new.console@example.org", "new.api@example.org"
    body = {"role": "clinician", "name": "Dr New", "password": NEW_PASSWORD}
    r = console.post("/console/admin/staff", {**body, "email": by_console})
    assert r.status_code == 302
    assert "Created the account of Dr New" in console.get("/console/admin/staff").get_data(
        as_text=True
    )
    r = make.client.post("/v1/users", json={**body, "email": by_api}, headers=admin.headers)
    assert r.status_code == 201, r.json
    console_id, api_id = _user_id(database, by_console), _user_id(database, by_api)
    login = {"email": by_console, "password": NEW_PASSWORD}
    assert make.client.post("/v1/auth/token", json=login).status_code == 200

    console.get("/console/admin/staff")
    assert console.post(f"/console/admin/staff/{console_id}/deactivate").status_code == 302
    r = make.client.post(f"/v1/users/{api_id}/deactivate", headers=admin.headers)
    assert r.status_code == 200
    assert make.client.post("/v1/auth/token", json=login).status_code == 401
    assert _user_writes(database, console_id, by_console) == _user_writes(database, api_id, by_api)
    assert [w["subtype"] for w in _user_writes(database, console_id)] == [
        "user.create",
        "user.deactivate",
    ]

    page = console.get("/console/admin/staff").get_data(as_text=True)
    assert f'action="/console/admin/staff/{console_id}/reactivate"' in page
    assert console.post(f"/console/admin/staff/{console_id}/reactivate").status_code == 302
    assert make.client.post("/v1/auth/token", json=login).status_code == 200
    assert _user_writes(database, console_id)[-1]["subtype"] == "user.reactivate"


@pytest.mark.parametrize(
    ("change", "status", "field", "message"),
    [
        ({"password": "short"}, 422, "password", "Must be at least 12 characters."),
        ({"email": "no-at-sign"}, 422, "email", "Not a valid email address."),
        ({"role": "patient"}, 422, "role", "Must be one of: admin, clinician."),
        ({"email": "taken"}, 409, "email", "Already registered."),
    ],
)
def test_bad_staff_input_is_refused_beside_its_field(
    as_admin: tuple[Console, Account],
    make: Builders,
    change: dict[str, str],
    status: int,
    field: str,
    message: str,
) -> None:
    console, _ = as_admin
    if change.get("email") == "taken":
        change = {"email": make.clinician().email}
    before = console.get("/console/admin/staff").get_data(as_text=True).count("<tr>")
    body = {"role": "clinician", "name": "Dr Typo", "email": "typo@example.org"}
    body["password"] = NEW_PASSWORD
    r = console.post("/console/admin/staff", {**body, **change})
    page = r.get_data(as_text=True)
    assert r.status_code == status
    assert f'<p class="error" id="e-{field}">{message}</p>' in page
    assert NEW_PASSWORD not in page
    assert page.count("<tr>") == before


def test_an_administrator_cannot_switch_their_own_account_off(
    as_admin: tuple[Console, Account],
) -> None:
    console, admin = as_admin
    console.get("/console/admin/staff")
    r = console.post(f"/console/admin/staff/{admin.id}/deactivate")
    assert r.status_code == 409
    assert "Administrators cannot deactivate their own account." in r.get_data(as_text=True)
    assert console.get("/console/admin/staff").status_code == 200


def test_care_team_changes_are_audited_as_through_the_api(
    as_admin: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, admin = as_admin
    doc, second = make.clinician(), make.clinician()
    by_api, by_console = make.patient(doc, name="Sam Same"), make.patient(doc, name="Sam Same")
    api_team = f"/v1/patients/{by_api.patient_id}/care-team"
    r = make.client.post(api_team, json={"clinician_id": str(second.id)}, headers=admin.headers)
    assert r.status_code == 201, r.json

    page = console.get(f"/console/admin/care-teams/{by_console.patient_id}").get_data(as_text=True)
    assert "<h1>Care team: Sam Same</h1>" in page
    assert f'<option value="{second.id}">' in page
    members = f"/console/admin/care-teams/{by_console.patient_id}/members"
    r = console.post(members, {"clinician_id": str(second.id)})
    assert r.status_code == 302
    urls = [f"/v1/patients/{p.patient_id}" for p in (by_api, by_console)]
    assert [make.client.get(u, headers=second.headers).status_code for u in urls] == [200, 200]

    r = make.client.delete(f"{api_team}/{second.id}", headers=admin.headers)
    assert r.status_code == 200
    console.get(f"/console/admin/care-teams/{by_console.patient_id}")
    assert console.post(f"{members}/{second.id}/remove").status_code == 302
    assert [make.client.get(u, headers=second.headers).status_code for u in urls] == [404, 404]
    assert by_console.patient_id is not None
    assert by_api.patient_id is not None
    console_writes = audited_writes(database, by_console.patient_id)
    assert [w["subtype"] for w in console_writes][-3:] == [
        "careteam.add",
        "careteam.remove",
        "access.denied",
    ]
    assert _masked(console_writes, by_console.email) == _masked(
        audited_writes(database, by_api.patient_id), by_api.email
    )


def test_care_team_refusals_are_shown_on_the_page(
    as_admin: tuple[Console, Account], make: Builders, database: Database
) -> None:
    console, admin = as_admin
    doc, gone = make.clinician(), make.clinician()
    pat = make.patient(doc)
    r = make.client.post(f"/v1/users/{gone.id}/deactivate", headers=admin.headers)
    assert r.status_code == 200
    team = f"/console/admin/care-teams/{pat.patient_id}"
    page = console.get(team).get_data(as_text=True)
    assert f'<option value="{gone.id}" disabled>' in page
    cases = [
        (f"{team}/members", {"clinician_id": "nobody"}, 422, "Not a valid UUID."),
        (f"{team}/members", {"clinician_id": str(gone.id)}, 422, "Not an active clinician."),
        (f"{team}/members", {"clinician_id": str(doc.id)}, 409, "already on the care team"),
        (f"{team}/members/{doc.id}/remove", {}, 409, "must keep at least one clinician"),
    ]
    assert pat.patient_id is not None
    before = audited_writes(database, pat.patient_id)
    for url, form, status, message in cases:
        r = console.post(url, form)
        assert r.status_code == status, url
        assert message in r.get_data(as_text=True)
    assert audited_writes(database, pat.patient_id) == before


def test_the_patient_picker_finds_every_patient(
    as_admin: tuple[Console, Account], make: Builders
) -> None:
    console, _ = as_admin
    ada = make.patient(make.clinician(), name="Ada Lovelace")
    make.patient(make.clinician(), name="Grace Hopper")
    page = console.get("/console/admin/care-teams").get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "Grace Hopper" in page
    live = console.htmx("GET", "/console/admin/care-teams", {"q": "lovelace"})
    fragment = live.get_data(as_text=True)
    assert "<html" not in fragment
    assert f'<a href="/console/admin/care-teams/{ada.patient_id}">Ada Lovelace</a>' in fragment
    assert "Grace Hopper" not in fragment


def test_only_clinicians_register_patients(as_admin: tuple[Console, Account]) -> None:
    console, _ = as_admin
    console.get("/console/patients/new")
    form = {
        "name": "Jo",
        "email": "jo@example.org",
        "date_of_birth": "1980-01-01",
        "timezone": "Europe/London",
    }
    r = console.post("/console/patients/new", form)
    assert r.status_code == 403
    assert "Only clinicians create patients." in r.get_data(as_text=True)
    assert PASSWORD not in r.get_data(as_text=True)
