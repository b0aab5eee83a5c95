"""Enrolling a patient by e-mail tells the clinician nothing about other accounts.

Before, an e-mail that already had an account (another team's patient, a member of
staff) gave 409: a clinician could test any address. Now the answer is the same
either way (202, the same fields, `pending`), the clinician's patient list does not
move, and an existing account joins the care team only when its holder, signed in,
accepts the invitation with the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD, Account, Builders, FrozenClock


def _body(email: str) -> dict[str, Any]:
    return {
        "name": "Someone",
        "email": email,
        "timezone": "Europe/Lisbon",
        "date_of_birth": "1980-05-05",
    }


def _enrol(make: Builders, doc: Account, email: str) -> dict[str, Any]:
    r = make.client.post("/v1/patients", json=_body(email), headers=doc.headers)
    assert r.status_code == 202, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def _shape(answer: dict[str, Any]) -> tuple[Any, ...]:
    return (
        sorted(answer),
        answer["status"],
        answer["patient_id"],
        len(answer["activation_code"]),
        answer["expires_at"] is not None,
    )


@pytest.mark.parametrize(
    "who", ["another-teams-patient", "same-patient-other-case", "a-clinician", "an-admin"]
)
def test_an_existing_account_gets_the_same_answer_as_a_new_email(
    make: Builders, count_rows: Any, who: str
) -> None:
    doc, other = make.clinician(), make.clinician()
    theirs = make.patient(other)
    existing = {
        "another-teams-patient": theirs.email,
        "same-patient-other-case": theirs.email.upper(),
        "a-clinician": other.email,
        "an-admin": make.admin().email,
    }[who]
    before = make.client.get("/v1/patients", headers=doc.headers).get_json()
    users = count_rows("users")

    fresh = _enrol(make, doc, "nobody-yet@example.org")
    known = _enrol(make, doc, existing)

    assert _shape(known) == _shape(fresh)
    assert (known["status"], known["patient_id"]) == ("pending", None)
    assert make.client.get("/v1/patients", headers=doc.headers).get_json() == before
    listed = make.client.get("/v1/me/enrolments", headers=doc.headers).get_json()
    assert [_listed_shape(e) for e in listed] == [_listed_shape(e) for e in (known, fresh)]
    # Reading an existing record is still only for its care team.
    assert (
        make.client.get(f"/v1/patients/{theirs.patient_id}", headers=doc.headers).status_code == 404
    )
    assert count_rows("users") == users + 1


def _listed_shape(e: dict[str, Any]) -> tuple[Any, ...]:
    return (sorted(k for k in e if k != "activation_code"), e["status"], e["patient_id"])


def test_the_holder_accepts_and_the_clinician_joins_the_care_team(make: Builders) -> None:
    doc, other = make.clinician(), make.clinician()
    pat = make.patient(other)
    invitation = _enrol(make, doc, pat.email)

    r = make.client.post(
        "/v1/me/care-invitations", json={"code": invitation["activation_code"]}, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["patient_id"]) == ("accepted", str(pat.patient_id))

    listed = make.client.get("/v1/patients", headers=doc.headers).get_json()
    assert [p["id"] for p in listed] == [str(pat.patient_id)]
    assert set(listed[0]["care_team"]) == {str(other.id), str(doc.id)}
    trail = make.client.get(
        f"/v1/patients/{pat.patient_id}/audit", headers=other.headers
    ).get_json()
    subtypes = [e["subtype"] for e in trail]
    assert "care-invitation.create" in subtypes
    assert "care-invitation.accept" in subtypes
    joined = {e["after"]["clinician_id"]: e for e in trail if e["subtype"] == "careteam.add"}
    # Both clinicians joined by the patient's own yes: activation, then acceptance.
    assert set(joined) == {str(other.id), str(doc.id)}
    assert {e["agent"]["who"] for e in joined.values()} == {str(pat.id)}
    accepted = make.client.get("/v1/me/enrolments", headers=doc.headers).get_json()
    assert [(e["status"], e["patient_id"]) for e in accepted] == [("accepted", str(pat.patient_id))]

    again = make.client.post(
        "/v1/me/care-invitations", json={"code": invitation["activation_code"]}, headers=pat.headers
    )
    assert again.status_code == 422
    assert "code" in again.get_json()["errors"]


def test_an_invitation_code_does_not_activate_and_says_to_sign_in(make: Builders) -> None:
    doc, other = make.clinician(), make.clinician()
    pat = make.patient(other)
    invitation = _enrol(make, doc, pat.email)
    r = make.client.post(
        "/v1/auth/activate",
        json={"activation_code": invitation["activation_code"], "password": PASSWORD + "x"},
    )
    assert r.status_code == 422
    assert "Sign in" in r.get_json()["errors"]["activation_code"][0]
    # The account's password is what it was.
    token = make.client.post("/v1/auth/token", json={"email": pat.email, "password": PASSWORD})
    assert token.status_code == 200


def test_only_the_invited_account_can_accept(make: Builders) -> None:
    doc, other = make.clinician(), make.clinician()
    invited, stranger = make.patient(other), make.patient(other)
    invitation = _enrol(make, doc, invited.email)
    for who in (stranger, doc):
        r = make.client.post(
            "/v1/me/care-invitations",
            json={"code": invitation["activation_code"]},
            headers=who.headers,
        )
        assert r.status_code == 422, r.get_json()
    assert make.client.get("/v1/patients", headers=doc.headers).get_json() == []


def test_an_expired_invitation_cannot_be_accepted(make: Builders, clock: FrozenClock) -> None:
    doc, other = make.clinician(), make.clinician()
    pat = make.patient(other)
    invitation = _enrol(make, doc, pat.email)
    clock.advance(hours=73)
    fresh_headers = make._token(pat.email, PASSWORD)
    r = make.client.post(
        "/v1/me/care-invitations",
        json={"code": invitation["activation_code"]},
        headers=fresh_headers,
    )
    assert r.status_code == 422
    listed = make.client.get("/v1/me/enrolments", headers=make._token(doc.email, PASSWORD))
    assert [e["status"] for e in listed.get_json()] == ["expired"]


def test_only_clinicians_enrol_and_list_enrolments(make: Builders) -> None:
    doc = make.clinician()
    pat = make.patient(doc)
    for who in (pat, make.admin()):
        assert make.client.get("/v1/me/enrolments", headers=who.headers).status_code == 403
        r = make.client.post("/v1/patients", json=_body("x@example.org"), headers=who.headers)
        assert r.status_code == 403
