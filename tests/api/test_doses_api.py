"""Doses for the mobile app over HTTP: DST-correct times, logging, snooze, as-needed
limits, devices, time-zone changes and adherence."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from tests.conftest import Account, Builders, FrozenClock, prescription_body, settings_for

UTC = dt.UTC


def at(text_: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text_.replace("Z", "+00:00"))


def iso(value: dt.datetime) -> str:
    return value.astimezone(UTC).isoformat()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the days these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def schedule(*times: str, **extra: Any) -> dict[str, Any]:
    return {"times": list(times), "as_needed": False, **extra}


def doses(
    make: Builders, who: Account, patient: Account, start: str, end: str
) -> list[dict[str, Any]]:
    r = make.client.get(
        f"/v1/patients/{patient.patient_id}/doses",
        query_string={"from": start, "to": end},
        headers=who.headers,
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def setup_patient(
    make: Builders, clock: FrozenClock, now: str, tz: str = "America/New_York"
) -> tuple[Account, Account]:
    clock.now = at(now)
    doc = make.clinician()
    return doc, make.patient(doc, timezone=tz)


@pytest.mark.parametrize(
    ("now", "start", "end", "expected"),
    [
        # Spring forward on 2026-03-08: EST (-05:00) before, EDT (-04:00) after.
        (
            "2026-03-06T12:00:00Z",
            "2026-03-07T00:00:00Z",
            "2026-03-10T00:00:00Z",
            [
                ("2026-03-07T01:00:00+00:00", "2026-03-06T20:00:00-05:00"),
                ("2026-03-07T13:00:00+00:00", "2026-03-07T08:00:00-05:00"),
                ("2026-03-08T01:00:00+00:00", "2026-03-07T20:00:00-05:00"),
                ("2026-03-08T12:00:00+00:00", "2026-03-08T08:00:00-04:00"),
                ("2026-03-09T00:00:00+00:00", "2026-03-08T20:00:00-04:00"),
                ("2026-03-09T12:00:00+00:00", "2026-03-09T08:00:00-04:00"),
            ],
        ),
        # Fall back on 2026-11-01: EDT before, EST after.
        (
            "2026-10-30T12:00:00Z",
            "2026-10-31T00:00:00Z",
            "2026-11-03T00:00:00Z",
            [
                ("2026-10-31T00:00:00+00:00", "2026-10-30T20:00:00-04:00"),
                ("2026-10-31T12:00:00+00:00", "2026-10-31T08:00:00-04:00"),
                ("2026-11-01T00:00:00+00:00", "2026-10-31T20:00:00-04:00"),
                ("2026-11-01T13:00:00+00:00", "2026-11-01T08:00:00-05:00"),
                ("2026-11-02T01:00:00+00:00", "2026-11-01T20:00:00-05:00"),
                ("2026-11-02T13:00:00+00:00", "2026-11-02T08:00:00-05:00"),
            ],
        ),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_new_york_doses_keep_their_local_times_across_dst(
    make: Builders,
    clock: FrozenClock,
    now: str,
    start: str,
    end: str,
    expected: list[tuple[str, str]],
) -> None:
    doc, pat = setup_patient(make, clock, now)
    make.prescription(doc, pat, schedule=schedule("08:00", "20:00"), start_date=now[:10])
    found = doses(make, pat, pat, start, end)
    got = [(at(d["scheduled_at"]).isoformat(), d["local_time"]) for d in found]
    assert got == expected
    assert all(d["status"] == "pending" for d in found)
    assert {d["dose"]["amount"] for d in found} == {10}
    # The clinician sees the same ids: one dose, one id, planned or projected.
    assert [d["id"] for d in doses(make, doc, pat, start, end)] == [d["id"] for d in found]


def test_an_ambiguous_wall_time_fires_once_and_a_missing_one_moves_forward(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat = setup_patient(make, clock, "2026-03-06T12:00:00Z")
    make.prescription(doc, pat, schedule=schedule("01:30", "02:30"), start_date="2026-03-06")
    spring = doses(make, pat, pat, "2026-03-08T00:00:00Z", "2026-03-09T00:00:00Z")
    # 02:30 does not exist on 2026-03-08; it moves to 03:00 EDT.
    assert [d["scheduled_at"] for d in spring] == [
        iso(at("2026-03-08T06:30:00Z")),
        iso(at("2026-03-08T07:00:00Z")),
    ]
    assert spring[1]["local_time"] == "2026-03-08T03:00:00-04:00"
    fall = doses(make, pat, pat, "2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")
    # 01:30 happens twice on 2026-11-01; the dose is at the first one only.
    assert [d["local_time"] for d in fall] == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T02:30:00-05:00",
    ]


def test_todays_doses_are_the_patients_local_day(make: Builders, clock: FrozenClock) -> None:
    # 03:00Z on 2026-06-10 is still 2026-06-09 in New York.
    doc, pat = setup_patient(make, clock, "2026-06-10T03:00:00Z")
    make.prescription(doc, pat, schedule=schedule("08:00", "23:30"), start_date="2026-06-01")
    r = make.client.get("/v1/me/doses/today", headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["date"] == "2026-06-09"
    # 08:00 was before the prescription was written; 23:30 EDT is 03:30Z, to come.
    assert [d["local_time"] for d in body["doses"]] == ["2026-06-09T23:30:00-04:00"]
    assert make.client.get("/v1/me/doses/today", headers=doc.headers).status_code == 403


def first_dose(make: Builders, clock: FrozenClock) -> tuple[Account, Account, dict[str, Any]]:
    doc, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    make.prescription(doc, pat, schedule=schedule("08:00"), start_date="2026-06-10")
    (dose,) = doses(make, pat, pat, "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z")
    return doc, pat, dose


def audit_subtypes(database: Database, dose_id: str) -> list[str]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT subtype FROM audit_events WHERE entity_id = :id ORDER BY id"),
            {"id": dose_id},
        )
        return [r[0] for r in rows]


def test_logging_taken_late_then_correcting_is_audited(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, dose = first_dose(make, clock)
    assert dose["scheduled_at"] == iso(at("2026-06-10T12:00:00Z"))
    clock.now = at("2026-06-10T15:00:00Z")
    r = make.client.post(
        f"/v1/doses/{dose['id']}/taken",
        json={"taken_at": "2026-06-10T12:20:00Z"},
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["taken_at"]) == (
        "taken",
        iso(at("2026-06-10T12:20:00Z")),
    )
    r = make.client.post(
        f"/v1/doses/{dose['id']}/skipped", json={"reason": "nausea"}, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["status"], r.get_json()["skip_reason"]) == ("skipped", "nausea")
    assert audit_subtypes(database, dose["id"]) == ["dose.taken", "dose.correct"]
    # The clinician on the care team may log it too; the stored state is what GET shows.
    r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=doc.headers)
    assert r.status_code == 200, r.get_json()
    (shown,) = doses(make, pat, pat, "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z")
    assert (shown["status"], shown["taken_at"]) == ("taken", iso(clock.now))


@pytest.mark.parametrize(
    ("taken_at", "field"),
    [("2026-06-10T16:00:00Z", "taken_at"), ("2026-06-09T20:00:00Z", "taken_at")],
    ids=["future", "long-before-due"],
)
def test_implausible_taken_times_are_refused(
    make: Builders, clock: FrozenClock, taken_at: str, field: str
) -> None:
    _, pat, dose = first_dose(make, clock)
    clock.now = at("2026-06-10T13:00:00Z")
    r = make.client.post(
        f"/v1/doses/{dose['id']}/taken", json={"taken_at": taken_at}, headers=pat.headers
    )
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]
    (shown,) = doses(make, pat, pat, "2026-06-10T00:00:00Z", "2026-06-11T00:00:00Z")
    assert shown["status"] == "pending"


def test_other_people_cannot_log_a_dose(make: Builders, clock: FrozenClock) -> None:
    _, _, dose = first_dose(make, clock)
    stranger = make.clinician()
    other_doc = make.clinician()
    other_patient = make.patient(other_doc)
    for who in (stranger, other_patient):
        r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=who.headers)
        assert r.status_code == 404, r.get_json()
    admin = make.admin()
    r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=admin.headers)
    assert r.status_code == 404


def outbox(database: Database) -> list[tuple[str, str, str]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, status, due_at FROM notifications ORDER BY id")
        ).all()
    return [(r[0], r[1], str(r[2])) for r in rows]


def test_snooze_queues_a_reminder_and_logging_withdraws_it(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    _, pat, dose = first_dose(make, clock)
    clock.now = at("2026-06-10T12:05:00Z")
    r = make.client.post(
        f"/v1/doses/{dose['id']}/snooze", json={"minutes": 15}, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["snoozed_until"] == iso(at("2026-06-10T12:20:00Z"))
    assert [(k, s) for k, s, _ in outbox(database)] == [("dose-snooze", "pending")]
    r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200
    assert [(k, s) for k, s, _ in outbox(database)] == [("dose-snooze", "cancelled")]
    r = make.client.post(
        f"/v1/doses/{dose['id']}/snooze", json={"minutes": 15}, headers=pat.headers
    )
    assert r.status_code == 409, r.get_json()
    for minutes in (0, 4, 241, "15"):
        r = make.client.post(
            f"/v1/doses/{dose['id']}/snooze", json={"minutes": minutes}, headers=pat.headers
        )
        assert r.status_code == 422, (minutes, r.get_json())


def prn_body() -> dict[str, Any]:
    return prescription_body(
        drug="ibuprofen",
        dose={"amount": 400, "unit": "mg"},
        schedule={"times": [], "as_needed": True, "max_doses_per_day": 3, "min_hours_between": 4},
    )


def test_as_needed_doses_respect_the_interval_and_the_daily_maximum(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    rx = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions", json=prn_body(), headers=doc.headers
    ).get_json()
    url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/prn-doses"

    def take() -> Any:
        return make.client.post(url, json={}, headers=pat.headers)

    first = take()
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["prn"], first.get_json()["status"]) == (True, "taken")
    clock.advance(hours=1)
    refused = take()
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["next_allowed_at"] == iso(at("2026-06-10T12:00:00Z"))
    assert "12:00" in refused.get_json()["message"]
    for hours in (3, 4):  # 12:00, 16:00: the second and third dose in 24 hours
        clock.advance(hours=hours)
        assert take().status_code == 201
    clock.advance(hours=4)  # 20:00: a fourth within 24 hours of the first
    refused = take()
    assert refused.status_code == 409
    assert refused.get_json()["next_allowed_at"] == iso(at("2026-06-11T08:00:00Z"))
    # A scheduled prescription takes no as-needed doses.
    scheduled = make.prescription(doc, pat, drug="sertraline", dose={"amount": 50, "unit": "mg"})
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{scheduled['id']}/prn-doses",
        json={},
        headers=pat.headers,
    )
    assert r.status_code == 409
    assert "next_allowed_at" not in r.get_json()


def test_changing_the_time_zone_replans_future_doses(make: Builders, clock: FrozenClock) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    make.prescription(doc, pat, schedule=schedule("08:00"), start_date="2026-06-10")
    window = ("2026-06-11T00:00:00Z", "2026-06-13T00:00:00Z")
    before = doses(make, pat, pat, *window)
    assert [d["local_time"] for d in before] == [
        "2026-06-11T08:00:00-04:00",
        "2026-06-12T08:00:00-04:00",
    ]
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"timezone": "Europe/London"}, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()
    after = doses(make, pat, pat, *window)
    assert [d["local_time"] for d in after] == [
        "2026-06-11T08:00:00+01:00",
        "2026-06-12T08:00:00+01:00",
    ]
    assert {d["id"] for d in before}.isdisjoint({d["id"] for d in after})


def test_a_revised_dose_replans_the_future_and_keeps_the_past(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    rx = make.prescription(doc, pat, schedule=schedule("08:00"), start_date="2026-06-10")
    clock.now = at("2026-06-11T13:00:00Z")  # after the 2026-06-11 08:00 EDT dose
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}",
        json={
            "dose": {"amount": 5, "unit": "mg"},
            "reason": "taper",
            "abrupt_stop_reason": "hyponatraemia",
        },
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    found = doses(make, pat, pat, "2026-06-11T00:00:00Z", "2026-06-14T00:00:00Z")
    assert [(d["local_time"][:10], d["dose"]["amount"]) for d in found] == [
        ("2026-06-11", 10),
        ("2026-06-12", 5),
        ("2026-06-13", 5),
    ]
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/pause",
        json={"reason": "hold", "abrupt_stop_reason": "hyponatraemia"},
        headers=doc.headers,
    )
    assert r.status_code == 200
    found = doses(make, pat, pat, "2026-06-11T00:00:00Z", "2026-06-14T00:00:00Z")
    assert [d["local_time"][:10] for d in found] == ["2026-06-11"]


def test_the_dose_window_is_checked(make: Builders, clock: FrozenClock) -> None:
    _, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    url = f"/v1/patients/{pat.patient_id}/doses"
    for query in (
        {"from": "2026-06-10T00:00:00Z", "to": "2026-06-10T00:00:00Z"},
        {"from": "2026-06-10T00:00:00Z", "to": "2026-07-15T00:00:00Z"},
        {"from": "2026-06-10T00:00:00", "to": "2026-06-11T00:00:00Z"},
        {"from": "yesterday", "to": "2026-06-11T00:00:00Z"},
        {"to": "2026-06-11T00:00:00Z"},
    ):
        r = make.client.get(url, query_string=query, headers=pat.headers)
        assert r.status_code == 422, (query, r.get_json())


def test_devices_register_list_and_remove(make: Builders, clock: FrozenClock) -> None:
    _, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    webpush = {
        "platform": "webpush",
        "endpoint": "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "keys": {"p256dh": "B" + "A" * 86, "auth": "c" * 22},
        "label": "Firefox",
    }
    r = make.client.post("/v1/me/devices", json=webpush, headers=pat.headers)
    assert r.status_code == 201, r.get_json()
    device = r.get_json()
    assert "keys" not in device
    assert "token" not in device
    again = make.client.post("/v1/me/devices", json=webpush, headers=pat.headers)
    assert (again.status_code, again.get_json()["id"]) == (200, device["id"])
    clock.advance(seconds=1)
    fcm = {"platform": "fcm", "token": "dAndroidFid0123456789_:APA91b-token"}
    assert make.client.post("/v1/me/devices", json=fcm, headers=pat.headers).status_code == 201
    listed = make.client.get("/v1/me/devices", headers=pat.headers).get_json()
    assert [d["platform"] for d in listed] == ["webpush", "fcm"]
    r = make.client.delete(f"/v1/me/devices/{device['id']}", headers=pat.headers)
    assert r.status_code == 204
    listed = make.client.get("/v1/me/devices", headers=pat.headers).get_json()
    assert [d["platform"] for d in listed] == ["fcm"]
    assert (
        make.client.delete(f"/v1/me/devices/{device['id']}", headers=pat.headers).status_code == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "webpush", "endpoint": "http://push.example.org/x"}, "endpoint"),
        ({"platform": "webpush", "endpoint": "https://push.example.org/x"}, "keys.p256dh"),
        ({"platform": "fcm"}, "token"),
        ({"platform": "fcm", "token": "t", "endpoint": "https://x.example.org"}, "endpoint"),
        ({"platform": "sms", "token": "t"}, "platform"),
        ({"platform": "webhook", "endpoint": "https://user:pw@x.example.org/"}, "endpoint"),
    ],
)
def test_invalid_devices_are_refused(
    make: Builders, clock: FrozenClock, body: dict[str, Any], field: str
) -> None:
    _, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    r = make.client.post("/v1/me/devices", json=body, headers=pat.headers)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"], r.get_json()
    assert make.client.get("/v1/me/devices", headers=pat.headers).get_json() == []


def test_adherence_counts_and_csv(make: Builders, clock: FrozenClock, database: Database) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    make.prescription(doc, pat, schedule=schedule("08:00", "20:00"), start_date="2026-06-10")
    found = doses(make, pat, pat, "2026-06-10T00:00:00Z", "2026-06-13T00:00:00Z")
    # 08:00 and 20:00 EDT (12:00Z, 00:00Z) from 06-10 08:00 to 06-12 08:00.
    ids = [d["id"] for d in found]
    assert len(ids) == 5
    clock.now = at("2026-06-12T13:00:00Z")

    def log(dose_id: str, action: str, body: dict[str, Any]) -> None:
        r = make.client.post(f"/v1/doses/{dose_id}/{action}", json=body, headers=pat.headers)
        assert r.status_code == 200, r.get_json()

    log(ids[0], "taken", {"taken_at": "2026-06-10T12:10:00Z"})  # on time
    log(ids[1], "taken", {"taken_at": "2026-06-11T03:00:00Z"})  # three hours late
    log(ids[2], "skipped", {})
    # ids[3] (06-12 00:00Z) is past the missed mark; ids[4] (12:00Z) is still open.
    query = {"from": "2026-06-10T00:00:00Z", "to": "2026-06-13T00:00:00Z"}
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence", query_string=query, headers=doc.headers
    )
    assert r.status_code == 200, r.get_json()
    (row,) = r.get_json()["prescriptions"]
    assert {k: row[k] for k in ("on_time", "late", "skipped", "missed", "pending")} == {
        "on_time": 1,
        "late": 1,
        "skipped": 1,
        "missed": 1,
        "pending": 1,
    }
    assert row["percentage"] == 50.0
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/adherence.csv", query_string=query, headers=doc.headers
    )
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [(t["scope"], t["drug"], t["on_time"], t["missed"], t["percentage"]) for t in table] == [
        ("prescription", "escitalopram", "1", "1", "50.0"),
        ("overall", "", "1", "1", "50.0"),
    ]


def test_snooze_is_for_a_due_dose_and_not_past_its_missed_mark(
    make: Builders, clock: FrozenClock
) -> None:
    _, pat, dose = first_dose(make, clock)  # due 12:00Z; the clock is at 11:00Z
    url = f"/v1/doses/{dose['id']}/snooze"
    r = make.client.post(url, json={"minutes": 10}, headers=pat.headers)
    assert r.status_code == 409, r.get_json()
    assert "not due" in r.get_json()["message"]
    clock.now = at("2026-06-10T13:00:00Z")  # missed at 14:00Z
    r = make.client.post(url, json={"minutes": 90}, headers=pat.headers)
    assert r.status_code == 409, r.get_json()
    assert "missed" in r.get_json()["message"]
    r = make.client.post(url, json={"minutes": 30}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()


def test_an_as_needed_dose_is_not_relogged_and_not_backdated_far(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T08:00:00Z")
    rx = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions", json=prn_body(), headers=doc.headers
    ).get_json()
    url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/prn-doses"
    r = make.client.post(url, json={"taken_at": "2026-06-07T08:00:00Z"}, headers=pat.headers)
    assert r.status_code == 422, r.get_json()
    assert "taken_at" in r.get_json()["errors"]
    dose = make.client.post(url, json={}, headers=pat.headers).get_json()
    for action in ("taken", "skipped"):
        r = make.client.post(f"/v1/doses/{dose['id']}/{action}", json={}, headers=pat.headers)
        assert r.status_code == 409, r.get_json()


@pytest.mark.parametrize(
    "query",
    [
        {"from": "0001-01-01T00:00:00+05:00", "to": "2026-06-11T00:00:00Z"},
        {"from": "2026-06-10T00:00:00Z", "to": "9999-12-31T23:59:59-05:00"},
        {"from": "1999-12-31T00:00:00Z", "to": "2000-01-02T00:00:00Z"},
    ],
)
def test_instants_out_of_range_are_refused_not_failed(
    make: Builders, clock: FrozenClock, query: dict[str, str]
) -> None:
    doc, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    for path in ("doses", "adherence"):
        r = make.client.get(
            f"/v1/patients/{pat.patient_id}/{path}", query_string=query, headers=pat.headers
        )
        assert r.status_code == 422, (path, r.get_json())
    rx = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions", json=prn_body(), headers=doc.headers
    ).get_json()
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/prn-doses",
        json={"taken_at": "0001-01-01T12:00:00Z"},
        headers=pat.headers,
    )
    assert r.status_code == 422, r.get_json()


def test_web_push_endpoints_must_be_a_known_push_service(
    make: Builders, clock: FrozenClock
) -> None:
    _, pat = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    keys = {"p256dh": "B" + "A" * 86, "auth": "c" * 22}
    for endpoint, status in (
        ("https://internal.example.org/admin", 422),
        ("https://fcm.googleapis.com.evil.example/send/x", 422),
        ("https://fcm.googleapis.com/fcm/send/abc", 201),
        ("https://wns2-par02p.notify.windows.com/w/?token=abc", 201),
    ):
        r = make.client.post(
            "/v1/me/devices",
            json={"platform": "webpush", "endpoint": endpoint, "keys": keys},
            headers=pat.headers,
        )
        assert r.status_code == status, (endpoint, r.get_json())


def test_a_token_registered_to_another_account_is_not_moved(
    make: Builders, clock: FrozenClock
) -> None:
    # Whoever learnt another account's push token must not take its reminders; the
    # first account removes the device before it can move.
    doc, first = setup_patient(make, clock, "2026-06-10T11:00:00Z")
    second = make.patient(doc)
    device = {"platform": "fcm", "token": "dAndroidFid0123456789_:shared-phone"}
    r = make.client.post("/v1/me/devices", json=device, headers=first.headers)
    assert r.status_code == 201
    assert (
        make.client.post("/v1/me/devices", json=device, headers=second.headers).status_code == 409
    )
    assert len(make.client.get("/v1/me/devices", headers=first.headers).get_json()) == 1
    make.client.delete(f"/v1/me/devices/{r.get_json()['id']}", headers=first.headers)
    assert (
        make.client.post("/v1/me/devices", json=device, headers=second.headers).status_code == 201
    )
    assert len(make.client.get("/v1/me/devices", headers=second.headers).get_json()) == 1
