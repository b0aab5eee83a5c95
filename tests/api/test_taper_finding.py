"""Finding a taper plan over HTTP: the prescription carries its plan's id, the
patient's plans and the signed-in patient's own are listed newest first; drafting
refuses a start date in the past, and a newer draft supersedes an older one."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text

from service.config import Settings
from service.db.uow import Database
from tests.api.test_taper_plans import act, approval, create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def prescriptions_of(make: Builders, who: Account, pat: Account) -> list[dict[str, Any]]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    found: list[dict[str, Any]] = r.get_json()
    return found


def one_prescription(make: Builders, who: Account, pat: Account, rx_id: str) -> dict[str, Any]:
    r = make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions/{rx_id}", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    found: dict[str, Any] = r.get_json()
    return found


def audit_subtypes(database: Database, entity_id: str) -> list[str]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT subtype FROM audit_events WHERE entity_id = :id ORDER BY id"),
            {"id": entity_id},
        )
        return [r[0] for r in rows]


def test_a_start_date_before_the_patients_today_is_refused(
    make: Builders, clock: FrozenClock, count_rows: Any
) -> None:
    doc, pat, rx = setup(make, clock)
    # 23:30 UTC on 10 June is already 11 June in London, where the patient lives.
    clock.now = dt.datetime(2026, 6, 10, 23, 30, tzinfo=dt.UTC)
    r = create(make, doc, pat, rx, start_date="2026-06-10")
    assert r.status_code == 422, r.get_json()
    assert "start_date" in r.get_json()["errors"]
    assert "2026-06-11" in r.get_json()["errors"]["start_date"][0], "the patient's today"
    assert count_rows("taper_plans") == 0
    assert create(make, doc, pat, rx, start_date="2026-06-11").status_code == 201, "today is fine"


def test_a_newer_draft_supersedes_the_older_one(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    first = create(make, doc, pat, rx).get_json()
    r = create(make, doc, pat, rx, interval_days=21)
    assert r.status_code == 201, r.get_json()
    second = r.get_json()
    old = make.client.get(f"/v1/taper-plans/{first['id']}", headers=doc.headers).get_json()
    assert (old["status"], old["version"]) == ("cancelled", 2)
    last = old["versions"][-1]
    assert last["change"] == "supersede"
    assert last["reason"] == f"Superseded by plan {second['id']}."
    assert last["created_by"] == str(doc.id)
    changes = [s for s in audit_subtypes(database, first["id"]) if s != "taper.read"]
    assert changes == ["taper.create", "taper.supersede"]
    assert act(make, doc, first, "approve").status_code == 409, "a superseded draft is over"
    assert one_prescription(make, doc, pat, rx["id"])["taper_plan_id"] == second["id"]


def test_a_stale_draft_is_superseded_and_says_why(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    stale = create(make, doc, pat, rx, start_date="2026-06-11").get_json()
    clock.now = dt.datetime(2026, 6, 20, 12, tzinfo=dt.UTC)
    refused = act(make, doc, stale, "approve")
    assert refused.status_code == 409, "its first step is in the past"
    r = create(make, doc, pat, rx, start_date="2026-06-22")
    assert r.status_code == 201, r.get_json()
    old = make.client.get(f"/v1/taper-plans/{stale['id']}", headers=doc.headers).get_json()
    assert old["status"] == "cancelled"
    assert old["versions"][-1]["reason"] == (
        f"Superseded by plan {r.get_json()['id']}. Its start date, 2026-06-11, had passed."
    )


def test_an_approved_plan_still_blocks_a_new_draft(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx).get_json()
    assert act(make, doc, plan, "approve", **approval(plan)).status_code == 200
    r = create(make, doc, pat, rx)
    assert r.status_code == 409, r.get_json()
    assert plan["id"] in r.get_json()["message"]


def test_a_prescription_names_its_plan_in_progress(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    other = make.prescription(doc, pat, drug="escitalopram", start_date="2026-06-01")
    assert {p["taper_plan_id"] for p in prescriptions_of(make, doc, pat)} == {None}
    plan = create(make, doc, pat, rx).get_json()
    by_id = {p["id"]: p["taper_plan_id"] for p in prescriptions_of(make, pat, pat)}
    assert by_id == {rx["id"]: plan["id"], other["id"]: None}
    assert one_prescription(make, pat, pat, rx["id"])["taper_plan_id"] == plan["id"]
    history = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/versions", headers=doc.headers
    ).get_json()
    assert {v["taper_plan_id"] for v in history} == {plan["id"]}
    act(make, doc, plan, "cancel", reason="not now")
    assert one_prescription(make, doc, pat, rx["id"])["taper_plan_id"] is None


@contextmanager
def statements(make: Builders) -> Iterator[list[str]]:
    """The SQL the app runs meanwhile (its own engine, not the test's)."""
    engine = make.app.extensions["medtrack"].db.engine
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_listing_prescriptions_reads_their_plans_in_one_query(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    create(make, doc, pat, rx)
    with statements(make) as few:
        prescriptions_of(make, doc, pat)
    for drug in ("lisinopril", "amlodipine", "atenolol"):
        make.prescription(doc, pat, drug=drug, start_date="2026-06-01")
    with statements(make) as more:
        assert len(prescriptions_of(make, doc, pat)) == 4
    assert len(more) == len(few), "no query per prescription"
    assert sum("taper_plans" in s for s in more) == 1


def test_the_patients_plans_are_listed_newest_first(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    other = make.prescription(
        doc,
        pat,
        drug="lorazepam",
        dose={"amount": 1, "unit": "mg"},
        schedule={"times": ["08:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    first = create(make, doc, pat, rx).get_json()
    clock.advance(minutes=5)
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{other['id']}/taper-plans",
        json={
            "start_dose_mg": 1,
            "algorithm": {"kind": "percent", "percent": 25},
            "start_date": "2026-06-15",
        },
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    second = r.get_json()
    clock.advance(minutes=5)
    third = create(make, doc, pat, rx, interval_days=21).get_json()

    url = f"/v1/patients/{pat.patient_id}/taper-plans"
    for who in (doc, pat):
        r = make.client.get(url, headers=who.headers)
        assert r.status_code == 200, r.get_json()
        assert [p["id"] for p in r.get_json()] == [third["id"], second["id"], first["id"]]
    assert [p["status"] for p in r.get_json()] == ["draft", "draft", "cancelled"]
    page = make.client.get(url, query_string={"limit": 1, "offset": 1}, headers=doc.headers)
    assert [p["id"] for p in page.get_json()] == [second["id"]]

    mine = make.client.get("/v1/me/taper-plans", headers=pat.headers)
    assert mine.status_code == 200, mine.get_json()
    assert [p["id"] for p in mine.get_json()] == [third["id"], second["id"], first["id"]]

    of_rx = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans", headers=pat.headers
    )
    assert of_rx.status_code == 200, of_rx.get_json()
    assert [p["id"] for p in of_rx.get_json()] == [third["id"], first["id"]]
    assert of_rx.get_json()[1]["versions"][-1]["change"] == "supersede"
    assert "taper.list" in audit_subtypes(database, rx["id"])


def test_who_may_list_plans(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    create(make, doc, pat, rx)
    stranger, admin = make.clinician(), make.admin()
    other_patient = make.patient(doc, timezone="Europe/London")
    url = f"/v1/patients/{pat.patient_id}/taper-plans"
    for who in (stranger, admin, other_patient):
        assert make.client.get(url, headers=who.headers).status_code == 404
    of_rx = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans"
    assert make.client.get(of_rx, headers=stranger.headers).status_code == 404
    mine = make.client.get("/v1/me/taper-plans", headers=other_patient.headers)
    assert (mine.status_code, mine.get_json()) == (200, [])
    assert make.client.get("/v1/me/taper-plans", headers=doc.headers).status_code == 403
    assert make.client.get("/v1/me/taper-plans").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/v1/patients/not-a-uuid/taper-plans",
        "/v1/patients/{pid}/prescriptions/{missing}/taper-plans",
        "/v1/patients/{missing}/taper-plans",
        "/v1/patients/{pid}/prescriptions/12/taper-plans",
    ],
)
def test_wrong_ids_are_not_found(make: Builders, clock: FrozenClock, path: str) -> None:
    doc, pat, _ = setup(make, clock)
    url = path.format(pid=pat.patient_id, missing=uuid.uuid4())
    r = make.client.get(url, headers=doc.headers)
    assert r.status_code == 404, r.get_json()


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": "x"}, {"offset": -1}])
def test_a_bad_page_is_refused_by_name(
    make: Builders, clock: FrozenClock, query: dict[str, Any]
) -> None:
    doc, pat, _ = setup(make, clock)
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/taper-plans", query_string=query, headers=doc.headers
    )
    assert r.status_code == 422, r.get_json()
    assert any(k.startswith("query.") for k in r.get_json()["errors"])
