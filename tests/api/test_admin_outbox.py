"""Administrators see the outbox's deliveries, never what the messages were about;
what a message was about is a clinical read for those who may read the patient.

Every read is audited: the administrators' as reads of no patient, the care team's
under the patient, and a refused attempt on a patient's message under that patient.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from service.db.outbox import OUTBOX, queued
from service.db.tables import AuditEvent
from service.db.uow import Database
from service.usecases.message_refs import MessageRefs
from tests.conftest import Account, Builders, FrozenClock

OPERATIONAL_KEYS = {
    "ref",
    "status",
    "attempts",
    "last_error_class",
    "queued_at",
    "next_attempt_at",
    "updated_at",
    "sent_at",
}
TAPER_PAYLOAD = {
    "title": "Your diazepam taper",
    "body": "From today take 7.5 mg.",
    "data": {"drug": "diazepam", "dose_mg": "7.5"},
}
# What a receiver might echo back into the stored error: the message it refused.
ECHOING_ERROR = 'webhook refused with HTTP 400: {"kind":"taper-step","drug":"diazepam"}'
CLINICAL_WORDS = ("taper", "missed-dose", "dose-reminder", "diazepam", "7.5 mg", "care-team")


@dataclass
class Outbox:
    team: Account
    patient: Account
    outsider: Account  # a clinician with a patient of their own
    other_patient: Account
    admin: Account
    dose_at: dt.datetime  # the due time of every message about the patient
    ids: dict[str, int]  # message id by kind
    other_id: int  # a message about the other patient
    refs: MessageRefs

    @property
    def patient_id(self) -> uuid.UUID:
        assert self.patient.patient_id is not None
        return self.patient.patient_id

    def ref(self, kind: str) -> str:
        return self.refs.ref(self.ids[kind])

    def details_url(self, ref: str, patient_id: uuid.UUID | None = None) -> str:
        return f"/v1/patients/{patient_id or self.patient_id}/notifications/{ref}"


def _message(kind: str, who: Account, about: Account, *, due: dt.datetime, now: dt.datetime) -> Any:
    assert about.patient_id is not None
    return queued(
        key=f"{kind}:{uuid.uuid4()}",
        kind=kind,
        recipient_id=who.id,
        patient_id=about.patient_id,
        dose_event_id=None,
        due_at=due,
        now=now,
        payload=TAPER_PAYLOAD if kind == "taper-step" else {},
    )


def _seed(database: Database, rows: list[dict[str, Any]]) -> dict[str, int]:
    with database.uow() as uow:
        uow.outbox.add_messages(rows)
        uow.commit()
    with database.engine.connect() as conn:
        found = conn.execute(select(OUTBOX.c.idempotency_key, OUTBOX.c.id)).all()
    ids = dict(found)
    return {row["kind"]: ids[row["idempotency_key"]] for row in rows}


def _set(database: Database, message_id: int, **values: Any) -> None:
    with database.engine.begin() as conn:
        conn.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(**values))


@pytest.fixture
def outbox(make: Builders, clock: FrozenClock, database: Database) -> Outbox:
    team, outsider = make.clinician(), make.clinician()
    patient, other_patient = make.patient(team), make.patient(outsider)
    now = clock()
    # A time no lifecycle field of these messages holds: if it shows, the dose did.
    dose_at = (now + dt.timedelta(hours=3)).replace(minute=17, second=0)
    ids = _seed(
        database,
        [
            _message("taper-step", patient, patient, due=dose_at, now=now),
            _message("missed-dose-care-team", team, patient, due=dose_at, now=now),
            _message("dose-reminder", patient, patient, due=dose_at, now=now),
        ],
    )
    other = _seed(
        database, [_message("dose-reminder", other_patient, other_patient, due=dose_at, now=now)]
    )
    _set(
        database,
        ids["taper-step"],
        status="failed",
        attempts=8,
        last_error=ECHOING_ERROR,
        updated_at=now + dt.timedelta(minutes=5),
    )
    _set(
        database,
        ids["missed-dose-care-team"],
        attempts=2,
        next_attempt_at=now + dt.timedelta(minutes=2),
        last_error="webhook answered HTTP 503: busy",
    )
    secret = make.app.extensions["medtrack"].settings.secret_key
    return Outbox(
        team,
        patient,
        outsider,
        other_patient,
        make.admin(),
        dose_at,
        ids,
        other["dose-reminder"],
        MessageRefs(secret),
    )


def _instants(value: Any) -> Iterator[dt.datetime]:
    """Every ISO 8601 instant anywhere in a JSON document."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _instants(v)
    elif isinstance(value, list):
        for v in value:
            yield from _instants(v)
    elif isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
        yield dt.datetime.fromisoformat(value)


def assert_nothing_clinical(body: Any, o: Outbox) -> None:
    raw = json.dumps(body)
    for secret in (
        str(o.patient_id),
        str(o.patient.id),
        str(o.team.id),
        str(o.other_patient.patient_id),
        *CLINICAL_WORDS,
    ):
        assert secret not in raw, f"{secret!r} shown to an administrator: {raw}"
    assert o.dose_at not in set(_instants(body)), f"a dose time shown: {raw}"


def _audit(database: Database, **where: Any) -> list[AuditEvent]:
    with database.uow() as uow:
        query = select(AuditEvent).order_by(col(AuditEvent.recorded))
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list(uow.session.exec(query))


def test_administrators_see_deliveries_not_what_they_were_about(
    make: Builders, outbox: Outbox
) -> None:
    r = make.client.get("/v1/admin/notifications", headers=outbox.admin.headers)
    assert r.status_code == 200, r.get_json()
    listed = r.get_json()
    assert len(listed) == 4
    assert all(set(item) == OPERATIONAL_KEYS for item in listed), listed
    assert_nothing_clinical(listed, outbox)
    by_ref = {item["ref"]: item for item in listed}
    failed = by_ref[outbox.ref("taper-step")]
    assert (failed["status"], failed["attempts"]) == ("failed", 8)
    assert failed["last_error_class"] == "webhook:http-400"
    assert failed["next_attempt_at"] is None
    retrying = by_ref[outbox.ref("missed-dose-care-team")]
    assert retrying["last_error_class"] == "webhook:http-503"
    assert retrying["next_attempt_at"] is not None
    fresh = by_ref[outbox.ref("dose-reminder")]
    assert fresh["next_attempt_at"] is None, "before a first attempt it is the dose time"
    assert all(re.fullmatch(r"[0-9a-f]{32}", ref) for ref in by_ref)
    assert not {str(i) for i in outbox.ids.values()} & set(by_ref), "ids are not shown as such"

    r = make.client.get("/v1/admin/notifications?status=failed", headers=outbox.admin.headers)
    assert [item["ref"] for item in r.get_json()] == [outbox.ref("taper-step")]


def test_the_summary_counts_without_saying_what(
    make: Builders, outbox: Outbox, clock: FrozenClock
) -> None:
    clock.advance(minutes=10)
    r = make.client.get("/v1/admin/notifications/summary", headers=outbox.admin.headers)
    assert r.status_code == 200, r.get_json()
    summary = r.get_json()
    assert_nothing_clinical(summary, outbox)
    assert summary["by_status"] == {
        "pending": 3,
        "claimed": 0,
        "sent": 0,
        "failed": 1,
        "expired": 0,
        "cancelled": 0,
    }
    assert summary["dead_letters"] == 1
    assert summary["dead_letters_by_error_class"] == {"webhook:http-400": 1}
    assert summary["retrying_by_error_class"] == {"webhook:http-503": 1}
    # Only the retry is due (two minutes after queueing); the reminders wait for the dose.
    assert summary["due"] == 1
    assert summary["oldest_due_seconds"] == 10 * 60 - 120
    assert summary["lapsed_claims"] == 0
    assert summary["notifier"] == "log"


def test_an_administrator_finds_a_message_by_its_reference(make: Builders, outbox: Outbox) -> None:
    ref = outbox.ref("taper-step")
    r = make.client.get(f"/v1/admin/notifications/{ref}", headers=outbox.admin.headers)
    assert r.status_code == 200, r.get_json()
    assert set(r.get_json()) == OPERATIONAL_KEYS
    assert r.get_json()["ref"] == ref
    assert_nothing_clinical(r.get_json(), outbox)


@pytest.mark.parametrize(
    "ref",
    [
        "0" * 32,
        "F" * 32,
        "not-a-reference",
        "x" * 2000,
        "%E2%9C%93",
        "12",
        MessageRefs("another server's secret, at least 32 characters").ref(1),
    ],
)
def test_a_reference_that_names_no_message_is_not_found(
    make: Builders, outbox: Outbox, ref: str
) -> None:
    for url, who in (
        (f"/v1/admin/notifications/{ref}", outbox.admin),
        (outbox.details_url(ref), outbox.team),
    ):
        r = make.client.get(url, headers=who.headers)
        assert r.status_code == 404, (url, r.get_data(as_text=True))
        assert set(r.get_json()) == {"code", "status", "message", "errors"}


def test_administrator_reads_are_audited_as_reads_of_no_patient(
    make: Builders, outbox: Outbox, database: Database
) -> None:
    for path in ("", "/summary", f"/{outbox.ref('taper-step')}"):
        r = make.client.get(f"/v1/admin/notifications{path}", headers=outbox.admin.headers)
        assert r.status_code == 200
    reads = _audit(database, actor_id=outbox.admin.id, action="R")
    assert [(e.subtype, e.entity_type, e.patient_id) for e in reads] == [
        ("outbox.list", "Outbox", None),
        ("outbox.summary", "Outbox", None),
        ("outbox.read", "Notification", None),
    ]


def test_the_care_team_opens_the_message_an_administrator_refers_to(
    make: Builders, outbox: Outbox, database: Database
) -> None:
    listed = make.client.get(
        "/v1/admin/notifications?status=failed", headers=outbox.admin.headers
    ).get_json()
    (ref,) = [item["ref"] for item in listed]
    r = make.client.get(outbox.details_url(ref), headers=outbox.team.headers)
    assert r.status_code == 200, r.get_json()
    details = r.get_json()
    assert details["ref"] == ref
    assert details["kind"] == "taper-step"
    assert details["patient_id"] == str(outbox.patient_id)
    assert dt.datetime.fromisoformat(details["due_at"]) == outbox.dose_at
    assert details["payload"] == TAPER_PAYLOAD
    assert details["last_error"] == ECHOING_ERROR
    (read,) = _audit(database, actor_id=outbox.team.id, subtype="notification.read")
    assert (read.action, read.patient_id, read.entity_type) == (
        "R",
        outbox.patient_id,
        "Notification",
    )
    assert read.entity_id == str(outbox.ids["taper-step"])


def test_the_patient_opens_a_message_about_themself(make: Builders, outbox: Outbox) -> None:
    r = make.client.get(
        outbox.details_url(outbox.ref("dose-reminder")), headers=outbox.patient.headers
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["kind"] == "dose-reminder"


def test_the_patient_sees_what_was_sent_to_them_not_to_their_care_team(
    make: Builders, outbox: Outbox
) -> None:
    r = make.client.get(
        f"/v1/patients/{outbox.patient_id}/notifications", headers=outbox.patient.headers
    )
    assert r.status_code == 200, r.get_json()
    assert {m["kind"] for m in r.get_json()} == {"taper-step", "dose-reminder"}
    # The receiver's own words (device ids, endpoints) are the care team's to read.
    assert {m["last_error"] for m in r.get_json()} == {None}
    r = make.client.get(
        outbox.details_url(outbox.ref("missed-dose-care-team")), headers=outbox.patient.headers
    )
    assert r.status_code == 404


@pytest.mark.parametrize("caller", ["admin", "outsider", "other_patient"])
def test_others_are_refused_and_the_refusal_is_filed_under_the_patient(
    make: Builders, outbox: Outbox, database: Database, caller: str
) -> None:
    who: Account = getattr(outbox, caller)
    for url in (
        outbox.details_url(outbox.ref("taper-step")),
        f"/v1/patients/{outbox.patient_id}/notifications",
    ):
        r = make.client.get(url, headers=who.headers)
        assert r.status_code == 404, r.get_data(as_text=True)
        # The same answer as for a patient that does not exist, naming only the path.
        assert r.get_json()["message"] == f"No patient {outbox.patient_id}."
    refused = _audit(database, actor_id=who.id, subtype="access.denied")
    assert [e.patient_id for e in refused] == [outbox.patient_id] * 2
    assert _audit(database, actor_id=who.id, action="R") == []


def test_a_message_about_another_patient_is_not_found_under_this_one(
    make: Builders, outbox: Outbox
) -> None:
    ref = outbox.refs.ref(outbox.other_id)
    r = make.client.get(outbox.details_url(ref), headers=outbox.team.headers)
    assert r.status_code == 404
    r = make.client.get(
        outbox.details_url(ref, outbox.other_patient.patient_id), headers=outbox.outsider.headers
    )
    assert r.status_code == 200, r.get_json()


def test_the_care_team_lists_the_messages_about_the_patient(
    make: Builders, outbox: Outbox, database: Database
) -> None:
    r = make.client.get(
        f"/v1/patients/{outbox.patient_id}/notifications", headers=outbox.team.headers
    )
    assert r.status_code == 200, r.get_json()
    assert {(m["ref"], m["kind"]) for m in r.get_json()} == {
        (outbox.ref(kind), kind) for kind in outbox.ids
    }
    (read,) = _audit(database, actor_id=outbox.team.id, subtype="notification.list")
    assert read.patient_id == outbox.patient_id


@pytest.mark.parametrize("caller", ["team", "patient"])
def test_only_administrators_see_the_operations_view(
    make: Builders, outbox: Outbox, caller: str
) -> None:
    who: Account = getattr(outbox, caller)
    for path in ("", "/summary", f"/{outbox.ref('taper-step')}"):
        r = make.client.get(f"/v1/admin/notifications{path}", headers=who.headers)
        assert r.status_code == 403, (path, r.get_json())


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=bogus", "query.status"),
        ("limit=0", "query.limit"),
        ("limit=201", "query.limit"),
        ("offset=-1", "query.offset"),
    ],
)
def test_bad_queries_are_refused_with_the_field_named(
    make: Builders, outbox: Outbox, query: str, field: str
) -> None:
    r = make.client.get(f"/v1/admin/notifications?{query}", headers=outbox.admin.headers)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]
