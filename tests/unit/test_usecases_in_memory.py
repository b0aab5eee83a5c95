"""Use-case rules on the in-memory unit of work, without a database: who may read a
patient's prescriptions, that a refusal looks like a patient that does not exist,
that every read is audited and committed (and a refused one is not); who may change
a care team, who may join one, and that a patient always keeps a clinician."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from service.db.tables import CareTeamMember, Patient, Prescription, PrescriptionVersion, User
from service.domain.accounts import Principal, Role
from service.domain.audit import AuditAction
from service.domain.prescriptions import Status
from service.usecases.context import Caller
from service.usecases.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.usecases.patients import add_care_team_member, remove_care_team_member
from service.usecases.prescriptions import get_prescription, list_prescriptions, list_versions
from tests.unit.fakes import FakeUnitOfWork

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return NOW


def _caller(user_id: uuid.UUID, role: Role, patient_id: uuid.UUID | None = None) -> Caller:
    return Caller(principal=Principal(user_id=user_id, role=role, patient_id=patient_id))


class World:
    """One patient with a diazepam prescription, their clinician, and outsiders."""

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.clinician = self._user(Role.CLINICIAN)
        self.other_clinician = self._user(Role.CLINICIAN)
        self.admin = self._user(Role.ADMIN)
        self.patient = self._patient()
        self.other_patient = self._patient()
        self.uow.patients.members.append(
            CareTeamMember(
                patient_id=self.patient.id,
                clinician_id=self.clinician.id,
                added_by=self.admin.id,
                added_at=NOW,
            )
        )
        self.rx = self._prescription(self.patient.id, "diazepam", Status.ACTIVE)
        self.paused = self._prescription(self.patient.id, "escitalopram", Status.PAUSED)
        # Listed in the order prescribed.
        self.paused.created_at = NOW + dt.timedelta(minutes=1)

    def _user(self, role: Role) -> User:
        user = User(email=f"{uuid.uuid4()}@example.test", name=role.value, role=role.value)
        self.uow.users.rows[user.id] = user
        return user

    def _patient(self) -> Patient:
        user = self._user(Role.PATIENT)
        patient = Patient(
            user_id=user.id,
            date_of_birth=dt.date(1970, 1, 1),
            timezone="Europe/Amsterdam",
            created_by=user.id,
            created_at=NOW,
        )
        self.uow.patients.rows[patient.id] = patient
        return patient

    def _prescription(self, patient_id: uuid.UUID, drug: str, status: Status) -> Prescription:
        rx = Prescription(
            patient_id=patient_id,
            status=status.value,
            created_by=self.clinician.id,
            created_at=NOW,
            updated_at=NOW,
        )
        self.uow.prescriptions.rows[rx.id] = rx
        self.uow.prescriptions.versions_by_number[(rx.id, 1)] = PrescriptionVersion(
            prescription_id=rx.id,
            version=1,
            drug=drug,
            dose_amount=Decimal("5"),
            dose_unit="mg",
            route="oral",
            schedule={"times": ["08:00"], "days_of_week": None},
            start_date=dt.date(2026, 2, 1),
            status=status.value,
            change="create",
            created_by=self.clinician.id,
            created_at=NOW,
        )
        return rx

    def as_clinician(self) -> Caller:
        return _caller(self.clinician.id, Role.CLINICIAN)

    def as_patient(self, patient: Patient) -> Caller:
        return _caller(patient.user_id, Role.PATIENT, patient.id)

    def list(self, caller: Caller, status: Status | None = None) -> list[str]:
        found = list_prescriptions(
            uow=self.uow,
            caller=caller,
            clock=clock,
            patient_id=self.patient.id,
            status=status,
            limit=50,
            offset=0,
        )
        return [r.drug for r in found]


@pytest.fixture
def world() -> World:
    return World()


def test_the_care_team_reads_the_regimen_and_the_read_is_audited(world: World) -> None:
    assert world.list(world.as_clinician()) == ["diazepam", "escitalopram"]
    [entry] = world.uow.audit.committed
    assert entry["subtype"] == "prescription.list"
    assert entry["action"] == AuditAction.READ.value
    assert entry["actor_id"] == world.clinician.id
    assert entry["patient_id"] == world.patient.id


def test_a_status_filter_reaches_the_repository(world: World) -> None:
    assert world.list(world.as_clinician(), Status.PAUSED) == ["escitalopram"]


def test_the_patient_reads_their_own_regimen(world: World) -> None:
    assert world.list(world.as_patient(world.patient)) == ["diazepam", "escitalopram"]


@pytest.mark.parametrize("who", ["other_clinician", "admin", "other_patient"])
def test_outsiders_are_told_the_patient_does_not_exist(world: World, who: str) -> None:
    callers = {
        "other_clinician": _caller(world.other_clinician.id, Role.CLINICIAN),
        "admin": _caller(world.admin.id, Role.ADMIN),
        "other_patient": world.as_patient(world.other_patient),
    }
    with pytest.raises(NotFound) as refused:
        world.list(callers[who])
    missing_id = uuid.uuid4()
    with pytest.raises(NotFound) as absent:
        list_prescriptions(
            uow=world.uow,
            caller=callers[who],
            clock=clock,
            patient_id=missing_id,
            status=None,
            limit=50,
            offset=0,
        )
    assert str(refused.value) == str(absent.value).replace(str(missing_id), str(world.patient.id))
    assert world.uow.audit.committed == []
    assert world.uow.commits == 0


def test_a_clinician_removed_from_the_team_no_longer_reads(world: World) -> None:
    world.uow.patients.members[0].removed_at = NOW
    with pytest.raises(NotFound):
        world.list(world.as_clinician())


def test_another_patients_prescription_is_not_found_under_this_patient(world: World) -> None:
    theirs = world._prescription(world.other_patient.id, "sertraline", Status.ACTIVE)
    with pytest.raises(NotFound, match="No prescription"):
        get_prescription(
            uow=world.uow,
            caller=world.as_clinician(),
            clock=clock,
            patient_id=world.patient.id,
            rx_id=theirs.id,
        )
    assert world.uow.audit.committed == []


def test_one_prescription_read_names_it_in_the_trail(world: World) -> None:
    rec = get_prescription(
        uow=world.uow,
        caller=world.as_patient(world.patient),
        clock=clock,
        patient_id=world.patient.id,
        rx_id=world.rx.id,
    )
    assert (rec.drug, rec.version, rec.status) == ("diazepam", 1, "active")
    [entry] = world.uow.audit.committed
    assert (entry["subtype"], entry["entity_id"]) == ("prescription.read", str(world.rx.id))


def test_the_history_lists_every_version_oldest_first(world: World) -> None:
    prescriptions = world.uow.prescriptions
    first = prescriptions.versions_by_number[(world.rx.id, 1)]
    prescriptions.versions_by_number[(world.rx.id, 2)] = first.model_copy(
        update={"id": uuid.uuid4(), "version": 2, "dose_amount": Decimal("4"), "change": "revise"}
    )
    world.rx.current_version = 2
    history = list_versions(
        uow=world.uow,
        caller=world.as_clinician(),
        clock=clock,
        patient_id=world.patient.id,
        rx_id=world.rx.id,
    )
    assert [(r.version, r.dose.amount, r.change) for r in history] == [
        (1, Decimal("5"), "create"),
        (2, Decimal("4"), "revise"),
    ]
    [entry] = world.uow.audit.committed
    assert entry["subtype"] == "prescription.versions"


def _change_team(world: World, caller: Caller, clinician_id: uuid.UUID, *, add: bool) -> list[str]:
    change = add_care_team_member if add else remove_care_team_member
    team = change(
        uow=world.uow,
        caller=caller,
        clock=clock,
        patient_id=world.patient.id,
        clinician_id=clinician_id,
    )
    return [entry.name for entry in team]


def test_an_administrator_adds_a_clinician_and_the_change_is_audited(world: World) -> None:
    admin = _caller(world.admin.id, Role.ADMIN)
    world.other_clinician.name = "Dr Okafor"
    team = _change_team(world, admin, world.other_clinician.id, add=True)
    assert team == ["clinician", "Dr Okafor"]
    assert world.uow.patients.locked == {world.patient.id}
    assert world.uow.commits == 1
    [entry] = world.uow.audit.committed
    assert (entry["subtype"], entry["entity_id"]) == ("careteam.add", str(world.other_clinician.id))


def test_only_an_administrator_changes_a_care_team(world: World) -> None:
    with pytest.raises(Forbidden):
        _change_team(world, world.as_clinician(), world.other_clinician.id, add=True)
    assert len(world.uow.patients.care_team(world.patient.id)) == 1
    assert world.uow.audit.committed == []


@pytest.mark.parametrize("who", ["a patient", "an inactive clinician"])
def test_only_an_active_clinician_joins(world: World, who: str) -> None:
    joining = world.other_patient.user_id if who == "a patient" else world.other_clinician.id
    world.other_clinician.is_active = False
    with pytest.raises(ValidationFailed) as refused:
        _change_team(world, _caller(world.admin.id, Role.ADMIN), joining, add=True)
    assert list(refused.value.errors) == ["clinician_id"]
    assert world.uow.commits == 0


def test_a_clinician_joins_a_team_once(world: World) -> None:
    with pytest.raises(Conflict, match="already on the care team"):
        _change_team(world, _caller(world.admin.id, Role.ADMIN), world.clinician.id, add=True)


def test_a_patient_always_keeps_a_clinician(world: World) -> None:
    admin = _caller(world.admin.id, Role.ADMIN)
    with pytest.raises(Conflict, match="at least one clinician"):
        _change_team(world, admin, world.clinician.id, add=False)
    # The removal was written before the check; the refusal rolled it back.
    [kept] = world.uow.patients.care_team(world.patient.id)
    assert (kept.clinician_id, kept.removed_at) == (world.clinician.id, None)
    assert world.uow.audit.committed == []
    _change_team(world, admin, world.other_clinician.id, add=True)
    assert _change_team(world, admin, world.clinician.id, add=False) == ["clinician"]
    [kept] = world.uow.patients.care_team(world.patient.id)
    assert kept.clinician_id == world.other_clinician.id
    assert [e["subtype"] for e in world.uow.audit.committed] == ["careteam.add", "careteam.remove"]
