"""Account rules without a database: what an account's state allows, where an
enrolment stands, who accepts an invitation, who joins a care team, and which
patient fields are valid."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from service.domain.accounts import (
    EARLIEST_BIRTH,
    MAX_ALLERGIES,
    AccountState,
    EnrolmentStatus,
    Principal,
    Role,
    check_patient_fields,
    enrolment_status,
    may_accept_invitation,
    may_join_care_team,
    normalise_patient_fields,
)
from service.domain.errors import DomainValidationError

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
HOUR = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("activated", "active", "sign_in", "reset"),
    [
        pytest.param(True, True, True, True, id="activated-and-on"),
        pytest.param(True, False, False, True, id="turned-off"),
        pytest.param(False, True, False, False, id="never-activated"),
        pytest.param(False, False, False, False, id="never-activated-and-off"),
    ],
)
def test_what_an_account_state_allows(
    activated: bool, active: bool, sign_in: bool, reset: bool
) -> None:
    state = AccountState(activated=activated, active=active)
    assert state.may_sign_in() is sign_in
    assert state.may_get_reset_code() is reset


@pytest.mark.parametrize(
    ("role", "active", "joins"),
    [
        (Role.CLINICIAN, True, True),
        (Role.CLINICIAN, False, False),
        (Role.ADMIN, True, False),
        (Role.PATIENT, True, False),
    ],
)
def test_only_an_active_clinician_joins_a_care_team(role: Role, active: bool, joins: bool) -> None:
    assert may_join_care_team(role, active=active) is joins


@pytest.mark.parametrize(
    ("accepted_at", "expires_at", "status"),
    [
        pytest.param(None, NOW + HOUR, EnrolmentStatus.PENDING, id="open"),
        pytest.param(None, NOW, EnrolmentStatus.EXPIRED, id="expires-now"),
        pytest.param(None, NOW - HOUR, EnrolmentStatus.EXPIRED, id="expired"),
        pytest.param(NOW - HOUR, NOW + HOUR, EnrolmentStatus.ACCEPTED, id="accepted"),
        # Accepted in time, it stays accepted once its code would have expired.
        pytest.param(NOW - 2 * HOUR, NOW - HOUR, EnrolmentStatus.ACCEPTED, id="accepted-then-due"),
    ],
)
def test_enrolment_status(
    accepted_at: dt.datetime | None, expires_at: dt.datetime, status: EnrolmentStatus
) -> None:
    assert enrolment_status(accepted_at=accepted_at, expires_at=expires_at, now=NOW) is status


def test_enrolment_statuses_are_the_stored_words() -> None:
    assert [s.value for s in EnrolmentStatus] == ["pending", "accepted", "expired"]


INVITED = uuid.uuid4()


@pytest.mark.parametrize(
    ("who", "expires_at", "accepts"),
    [
        pytest.param(
            Principal(user_id=INVITED, role=Role.PATIENT), NOW + HOUR, True, id="the-invited"
        ),
        pytest.param(Principal(user_id=INVITED, role=Role.PATIENT), NOW, False, id="expired"),
        pytest.param(
            Principal(user_id=uuid.uuid4(), role=Role.PATIENT), NOW + HOUR, False, id="someone-else"
        ),
        pytest.param(
            Principal(user_id=INVITED, role=Role.CLINICIAN), NOW + HOUR, False, id="not-a-patient"
        ),
    ],
)
def test_who_accepts_an_invitation(who: Principal, expires_at: dt.datetime, accepts: bool) -> None:
    allowed = may_accept_invitation(who, invited_user_id=INVITED, expires_at=expires_at, now=NOW)
    assert allowed is accepts


def test_an_enrolment_of_a_new_account_is_accepted_by_no_one_signed_in() -> None:
    who = Principal(user_id=INVITED, role=Role.PATIENT)
    assert not may_accept_invitation(who, invited_user_id=None, expires_at=NOW + HOUR, now=NOW)


def test_valid_patient_fields_pass() -> None:
    check_patient_fields(
        {
            "name": "Alex Kim",
            "timezone": "Europe/London",
            "date_of_birth": EARLIEST_BIRTH,
            "allergies": ["penicillin"],
        },
        today=TODAY,
    )
    check_patient_fields({}, today=TODAY)


def test_every_bad_patient_field_is_named() -> None:
    with pytest.raises(DomainValidationError) as caught:
        check_patient_fields(
            {
                "name": "  ",
                "timezone": "Mars/Olympus_Mons",
                "date_of_birth": TODAY + dt.timedelta(days=1),
                "allergies": [" "] * (MAX_ALLERGIES + 1),
            },
            today=TODAY,
        )
    errors = caught.value.errors
    assert set(errors) == {"name", "timezone", "date_of_birth", "allergies"}
    assert len(errors["allergies"]) == 2


def test_a_birth_date_before_the_earliest_is_refused() -> None:
    with pytest.raises(DomainValidationError) as caught:
        check_patient_fields({"date_of_birth": EARLIEST_BIRTH - dt.timedelta(days=1)}, today=TODAY)
    assert set(caught.value.errors) == {"date_of_birth"}


def test_patient_fields_are_normalised() -> None:
    out = normalise_patient_fields(
        {
            "name": "  Alex Kim ",
            "email": " Alex@Example.ORG ",
            "allergies": [" Penicillin", "penicillin ", "Latex"],
            "pregnant": False,
        }
    )
    assert out == {
        "name": "Alex Kim",
        "email": "alex@example.org",
        "allergies": ["Penicillin", "Latex"],
        "pregnant": False,
    }


def test_normalising_leaves_absent_fields_absent() -> None:
    assert normalise_patient_fields({"timezone": "Asia/Tokyo"}) == {"timezone": "Asia/Tokyo"}
