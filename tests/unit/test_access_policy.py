"""Who may read, view, write and edit what on a patient's record."""

from __future__ import annotations

import uuid

import pytest

from service.domain.accounts import (
    Principal,
    Role,
    can_read_patient,
    can_view_patient_record,
    can_write_clinical,
    forbidden_patient_fields,
)

PATIENT_ID = uuid.uuid4()
ON_TEAM = uuid.uuid4()
CARE_TEAM = frozenset({ON_TEAM, uuid.uuid4()})

ADMIN = Principal(user_id=uuid.uuid4(), role=Role.ADMIN)
CLINICIAN_ON_TEAM = Principal(user_id=ON_TEAM, role=Role.CLINICIAN)
CLINICIAN_OFF_TEAM = Principal(user_id=uuid.uuid4(), role=Role.CLINICIAN)
THE_PATIENT = Principal(user_id=uuid.uuid4(), role=Role.PATIENT, patient_id=PATIENT_ID)
OTHER_PATIENT = Principal(user_id=uuid.uuid4(), role=Role.PATIENT, patient_id=uuid.uuid4())

# (who, can_read_patient, can_view_patient_record, can_write_clinical)
MATRIX = [
    pytest.param(ADMIN, False, True, False, id="admin"),
    pytest.param(CLINICIAN_ON_TEAM, True, True, True, id="clinician-on-team"),
    pytest.param(CLINICIAN_OFF_TEAM, False, False, False, id="clinician-not-on-team"),
    pytest.param(THE_PATIENT, True, True, False, id="the-patient"),
    pytest.param(OTHER_PATIENT, False, False, False, id="another-patient"),
]


@pytest.mark.parametrize(("who", "read", "view", "write"), MATRIX)
def test_can_read_patient(who: Principal, read: bool, view: bool, write: bool) -> None:
    assert can_read_patient(who, patient_id=PATIENT_ID, care_team=CARE_TEAM) is read


@pytest.mark.parametrize(("who", "read", "view", "write"), MATRIX)
def test_can_view_patient_record(who: Principal, read: bool, view: bool, write: bool) -> None:
    assert can_view_patient_record(who, patient_id=PATIENT_ID, care_team=CARE_TEAM) is view


@pytest.mark.parametrize(("who", "read", "view", "write"), MATRIX)
def test_can_write_clinical(who: Principal, read: bool, view: bool, write: bool) -> None:
    assert can_write_clinical(who, care_team=CARE_TEAM) is write


def test_an_empty_care_team_lets_no_clinician_read_or_write() -> None:
    assert not can_read_patient(CLINICIAN_ON_TEAM, patient_id=PATIENT_ID, care_team=())
    assert not can_write_clinical(CLINICIAN_ON_TEAM, care_team=())


@pytest.mark.parametrize("role", [Role.ADMIN, Role.PATIENT])
def test_being_listed_on_the_team_gives_no_clinical_access_to_non_clinicians(role: Role) -> None:
    who = Principal(user_id=ON_TEAM, role=role, patient_id=uuid.uuid4())
    assert not can_read_patient(who, patient_id=PATIENT_ID, care_team=CARE_TEAM)
    assert not can_write_clinical(who, care_team=CARE_TEAM)


def test_a_patient_account_without_a_record_reads_no_one() -> None:
    who = Principal(user_id=uuid.uuid4(), role=Role.PATIENT, patient_id=None)
    assert not can_read_patient(who, patient_id=PATIENT_ID, care_team=CARE_TEAM)
    assert not can_view_patient_record(who, patient_id=PATIENT_ID, care_team=CARE_TEAM)


CHANGES = ["timezone", "allergies", "name", "email", "pregnant", "date_of_birth"]


@pytest.mark.parametrize(
    ("who", "forbidden"),
    [
        # The sign-in e-mail is the administrator's to change, and only that.
        pytest.param(
            ADMIN, ["allergies", "date_of_birth", "name", "pregnant", "timezone"], id="admin"
        ),
        pytest.param(CLINICIAN_ON_TEAM, ["email"], id="clinician-on-team"),
        pytest.param(CLINICIAN_OFF_TEAM, ["email"], id="clinician-not-on-team"),
        pytest.param(
            THE_PATIENT, ["allergies", "date_of_birth", "email", "pregnant"], id="the-patient"
        ),
        pytest.param(
            OTHER_PATIENT, ["allergies", "date_of_birth", "email", "pregnant"], id="another-patient"
        ),
    ],
)
def test_forbidden_patient_fields(who: Principal, forbidden: list[str]) -> None:
    assert forbidden_patient_fields(who, CHANGES) == forbidden


def test_a_patient_may_set_their_name_and_timezone() -> None:
    assert forbidden_patient_fields(THE_PATIENT, ["name", "timezone"]) == []
    assert forbidden_patient_fields(THE_PATIENT, []) == []


def test_forbidden_fields_are_sorted_and_unique() -> None:
    assert forbidden_patient_fields(THE_PATIENT, ["email", "allergies", "email"]) == [
        "allergies",
        "email",
    ]
