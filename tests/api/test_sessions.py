"""Sessions a user can manage: refresh rotation, password change, reset, logout-all,
stored expiry, deactivation, and the password rules."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from werkzeug.test import TestResponse

from service.db.uow import Database
from tests.conftest import PASSWORD, Account, Builders, FrozenClock

NEW_PASSWORD = "marigold lantern across the quiet river"


def login(client: FlaskClient, email: str, password: str) -> dict[str, Any]:
    r = client.post("/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def refresh(client: FlaskClient, refresh_token: str) -> TestResponse:
    return client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


def me(client: FlaskClient, tokens: dict[str, Any]) -> int:
    return client.get("/v1/me", headers=bearer(tokens)).status_code


def audited(database: Database, subtype: str) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM audit_events WHERE subtype = :s"), {"s": subtype}
            ).scalar_one()
        )


def errors_of(r: TestResponse, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_json()
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    return body["errors"]  # type: ignore[no-any-return]


# --- refresh ----------------------------------------------------------------------------


def test_a_refresh_token_gives_new_tokens_and_works_once(make: Builders) -> None:
    doc = make.clinician()
    first = login(make.client, doc.email, doc.password)
    r = refresh(make.client, first["refresh_token"])
    assert r.status_code == 200, r.get_json()
    second = r.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["refresh_expires_in"] > second["expires_in"] > 0
    assert me(make.client, second) == 200
    r = refresh(make.client, second["refresh_token"])
    assert r.status_code == 200


def test_reusing_a_rotated_refresh_token_ends_the_whole_session(
    make: Builders, database: Database
) -> None:
    doc = make.clinician()
    stolen = login(make.client, doc.email, doc.password)
    elsewhere = login(make.client, doc.email, doc.password)  # another device
    rotated = refresh(make.client, stolen["refresh_token"]).get_json()
    # The copy is used again: the session ends, for the copy and for the device.
    assert "refresh_token" in errors_of(refresh(make.client, stolen["refresh_token"]), 401)
    assert refresh(make.client, rotated["refresh_token"]).status_code == 401
    assert me(make.client, rotated) == 401
    assert me(make.client, stolen) == 401
    # The account's other session is not touched.
    assert me(make.client, elsewhere) == 200
    assert refresh(make.client, elsewhere["refresh_token"]).status_code == 200
    assert audited(database, "refresh.reuse") == 1
    notices = make.client.get("/v1/me/notices", headers=bearer(elsewhere)).get_json()
    assert [n["kind"] for n in notices] == ["refresh-reuse"]


def test_refresh_refuses_bad_input_naming_the_field(client: FlaskClient) -> None:
    assert "refresh_token" in errors_of(client.post("/v1/auth/refresh", json={}), 422)
    assert "refresh_token" in errors_of(refresh(client, "not-a-token-we-issued"), 401)


def test_a_refresh_token_expires(make: Builders, clock: FrozenClock) -> None:
    doc = make.clinician()
    tokens = login(make.client, doc.email, doc.password)
    clock.advance(seconds=tokens["refresh_expires_in"] + 1)
    assert refresh(make.client, tokens["refresh_token"]).status_code == 401


def test_logout_ends_the_refresh_token_too(make: Builders) -> None:
    doc = make.clinician()
    tokens = login(make.client, doc.email, doc.password)
    assert make.client.post("/v1/auth/logout", headers=bearer(tokens)).status_code == 204
    assert refresh(make.client, tokens["refresh_token"]).status_code == 401


def test_token_secrets_are_stored_hashed(make: Builders, database: Database) -> None:
    doc = make.clinician()
    tokens = login(make.client, doc.email, doc.password)
    jti = jwt.decode(tokens["access_token"], options={"verify_signature": False})["jti"]
    with database.engine.connect() as conn:
        stored = [
            str(v)
            for table in ("auth_tokens", "refresh_tokens")
            for row in conn.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            for v in row
        ]
    assert stored
    assert tokens["refresh_token"] not in stored
    assert jti not in stored


# --- stored expiry, generations -------------------------------------------------------------


def test_the_stored_expiry_is_checked_on_every_request(make: Builders, database: Database) -> None:
    doc = make.clinician()
    tokens = login(make.client, doc.email, doc.password)
    assert me(make.client, tokens) == 200
    # The server shortens the token's life (as an operator could): the signed `exp`
    # still lies ahead, the stored one has passed.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE auth_tokens SET expires_at = :past WHERE user_id = :id"),
            {"past": past, "id": doc.id.hex if database.url.startswith("sqlite") else doc.id},
        )
    assert me(make.client, tokens) == 401


def test_reactivation_does_not_revive_old_tokens(make: Builders, database: Database) -> None:
    admin, doc = make.admin(), make.clinician()
    tokens = login(make.client, doc.email, doc.password)
    r = make.client.post(f"/v1/users/{doc.id}/deactivate", headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["is_active"] is False
    assert me(make.client, tokens) == 401
    r = make.client.post(f"/v1/users/{doc.id}/reactivate", headers=admin.headers)
    assert r.status_code == 200
    assert r.get_json()["is_active"] is True
    assert me(make.client, tokens) == 401
    assert make.client.get("/v1/me", headers=doc.headers).status_code == 401
    assert refresh(make.client, tokens["refresh_token"]).status_code == 401
    assert me(make.client, login(make.client, doc.email, doc.password)) == 200
    assert audited(database, "user.deactivate") == 1
    assert audited(database, "user.reactivate") == 1


def test_only_admins_deactivate_and_not_themselves(make: Builders) -> None:
    admin, doc = make.admin(), make.clinician()
    r = make.client.post(f"/v1/users/{admin.id}/deactivate", headers=doc.headers)
    assert r.status_code == 403
    assert "user_id" in errors_of(
        make.client.post(f"/v1/users/{admin.id}/deactivate", headers=admin.headers), 409
    )


# --- logout everywhere -------------------------------------------------------------------


def test_logout_all_ends_every_session(make: Builders, database: Database) -> None:
    doc = make.clinician()
    phone, laptop = (login(make.client, doc.email, doc.password) for _ in range(2))
    assert make.client.post("/v1/auth/logout-all", headers=bearer(phone)).status_code == 204
    for tokens in (phone, laptop):
        assert me(make.client, tokens) == 401
        assert refresh(make.client, tokens["refresh_token"]).status_code == 401
    assert me(make.client, login(make.client, doc.email, doc.password)) == 200
    assert audited(database, "logout-all") == 1


# --- password change -----------------------------------------------------------------


def change(client: FlaskClient, tokens: dict[str, Any], current: str, new: str) -> TestResponse:
    return client.post(
        "/v1/auth/password",
        json={"current_password": current, "new_password": new},
        headers=bearer(tokens),
    )


def test_a_password_change_ends_the_other_sessions(make: Builders, database: Database) -> None:
    patient = make.patient(make.clinician())
    here, other = (login(make.client, patient.email, PASSWORD) for _ in range(2))
    r = change(make.client, here, PASSWORD, NEW_PASSWORD)
    assert r.status_code == 200, r.get_json()
    fresh = r.get_json()
    assert me(make.client, fresh) == 200
    assert refresh(make.client, fresh["refresh_token"]).status_code == 200
    for old in (here, other):
        assert me(make.client, old) == 401
        assert refresh(make.client, old["refresh_token"]).status_code == 401
    bad = make.client.post("/v1/auth/token", json={"email": patient.email, "password": PASSWORD})
    assert bad.status_code == 401
    assert me(make.client, login(make.client, patient.email, NEW_PASSWORD)) == 200
    assert audited(database, "password.change") == 1
    notices = make.client.get("/v1/me/notices", headers=bearer(fresh)).get_json()
    assert [n["kind"] for n in notices] == ["password-changed"]


def test_a_password_change_names_the_field_that_is_wrong(make: Builders) -> None:
    doc = make.clinician()
    tokens = login(make.client, doc.email, doc.password)
    r = change(make.client, tokens, "not my password at all", NEW_PASSWORD)
    assert set(errors_of(r, 422)) == {"current_password"}
    r = change(make.client, tokens, doc.password, "aaaaaaaaaa")
    assert set(errors_of(r, 422)) == {"new_password"}
    r = make.client.post(
        "/v1/auth/password", json={"new_password": NEW_PASSWORD}, headers=bearer(tokens)
    )
    assert "current_password" in errors_of(r, 422)
    assert me(make.client, tokens) == 200  # nothing changed


# --- password reset --------------------------------------------------------------------


def redeem(client: FlaskClient, code: str, password: str = NEW_PASSWORD) -> TestResponse:
    return client.post(
        "/v1/auth/password-reset", json={"reset_code": code, "new_password": password}
    )


def issue_for_patient(make: Builders, by: Account, patient: Account) -> TestResponse:
    return make.client.post(f"/v1/patients/{patient.patient_id}/password-reset", headers=by.headers)


def test_the_care_team_resets_a_patients_password_once(make: Builders, database: Database) -> None:
    team = make.clinician()
    patient = make.patient(team)
    r = issue_for_patient(make, team, patient)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["reset_code"]
    assert redeem(make.client, code).status_code == 204
    assert make.client.get("/v1/me", headers=patient.headers).status_code == 401
    assert me(make.client, login(make.client, patient.email, NEW_PASSWORD)) == 200
    assert "reset_code" in errors_of(redeem(make.client, code, "another fine long phrase"), 422)
    assert audited(database, "password-reset.issue") == 1
    assert audited(database, "password-reset.redeem") == 1
    with database.engine.connect() as conn:
        stored = [
            str(v) for row in conn.execute(text("SELECT * FROM password_resets")) for v in row
        ]
    assert code not in stored
    assert code.replace("-", "") not in stored


def test_a_reset_code_expires_and_a_newer_one_replaces_it(
    make: Builders, clock: FrozenClock
) -> None:
    admin = make.admin()
    patient = make.patient(make.clinician())
    first = issue_for_patient(make, admin, patient).get_json()["reset_code"]
    second = issue_for_patient(make, admin, patient).get_json()["reset_code"]
    assert "reset_code" in errors_of(redeem(make.client, first), 422)
    clock.advance(hours=25)
    assert "reset_code" in errors_of(redeem(make.client, second), 422)


def test_a_refused_new_password_leaves_the_code_usable(make: Builders) -> None:
    admin, doc = make.admin(), make.clinician()
    code = make.client.post(f"/v1/users/{doc.id}/password-reset", headers=admin.headers)
    assert code.status_code == 201, code.get_json()
    value = code.get_json()["reset_code"]
    assert "new_password" in errors_of(redeem(make.client, value, "password1234"), 422)
    assert redeem(make.client, value).status_code == 204
    assert me(make.client, login(make.client, doc.email, NEW_PASSWORD)) == 200


def test_who_may_issue_a_reset_code(make: Builders) -> None:
    team, outsider, admin = make.clinician(), make.clinician(), make.admin()
    patient = make.patient(team)
    assert issue_for_patient(make, patient, patient).status_code == 403
    assert issue_for_patient(make, outsider, patient).status_code == 404
    assert issue_for_patient(make, admin, patient).status_code == 201
    # Staff passwords are reset by administrators only.
    staff_reset = f"/v1/users/{outsider.id}/password-reset"
    assert make.client.post(staff_reset, headers=team.headers).status_code == 403
    assert make.client.post(staff_reset, headers=patient.headers).status_code == 403
    assert make.client.post(staff_reset, headers=admin.headers).status_code == 201


# --- password rules ------------------------------------------------------------------------


@pytest.mark.parametrize("weak", ["aaaaaaaaaa", "aaaaaaaaaaaa", "qwertyqwerty", "Password1234!"])
def test_weak_passwords_are_refused_for_admins_and_everyone(make: Builders, weak: str) -> None:
    admin = make.admin()
    body = {"role": "admin", "email": "new-admin@example.org", "name": "New", "password": weak}
    assert "password" in errors_of(
        make.client.post("/v1/users", json=body, headers=admin.headers), 422
    )
    created = make.client.post(
        "/v1/patients",
        json={
            "name": "Pat",
            "email": "pat@example.org",
            "timezone": "Europe/London",
            "date_of_birth": "1980-01-01",
        },
        headers=make.clinician().headers,
    ).get_json()
    r = make.client.post(
        "/v1/auth/activate", json={"activation_code": created["activation_code"], "password": weak}
    )
    assert "password" in errors_of(r, 422)


def test_an_admin_acting_on_a_patients_account_is_in_the_patients_trail(make: Builders) -> None:
    doc = make.clinician()
    pat, admin = make.patient(doc), make.admin()
    r = make.client.post(f"/v1/users/{pat.id}/password-reset", headers=admin.headers)
    assert r.status_code == 201, r.get_json()
    r = make.client.post(f"/v1/users/{pat.id}/deactivate", headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    trail = make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers)
    by_admin = [e["subtype"] for e in trail.get_json() if e["agent"]["who"] == str(admin.id)]
    assert by_admin == ["password-reset.issue", "user.deactivate"]
