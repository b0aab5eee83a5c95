"""GET /v1/me/changes: exactly what changed in the patient's record after a cursor
(prescriptions, doses, taper plans, findings), nothing of other patients' or of
reads, paged with has_more, with a cursor nobody can alter."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from flask import Flask

from service.config import Settings
from service.db.changes import ChangesRepository
from service.db.uow import Database, UnitOfWork
from service.usecases.followups import follow_up_missed
from service.usecases.reminders import DEFAULT_POLICY
from tests.api.test_taper_plans import create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for

URL = "/v1/me/changes"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def sync(make: Builders, pat: Account, since: str | None = None, **query: Any) -> dict[str, Any]:
    if since is not None:
        query["since"] = since
    r = make.client.get(URL, query_string=query, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    page: dict[str, Any] = r.get_json()
    return page


def listed(page: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["id"], c["op"]) for c in page["changes"]]


def test_the_feed_lists_exactly_what_changed_after_the_cursor(
    make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx = setup(make, clock)
    start = sync(make, pat)
    assert listed(start) == [("prescription", rx["id"], "upsert")]
    assert start["has_more"] is False
    cursor = start["next_cursor"]
    quiet = sync(make, pat, cursor)
    assert (quiet["changes"], quiet["has_more"]) == ([], False)

    # Reads, the care team's own views and another patient's record are no change here.
    make.client.get(f"/v1/patients/{pat.patient_id}/audit", headers=doc.headers)
    make.client.get(f"/v1/patients/{pat.patient_id}/prescriptions", headers=pat.headers)
    other = make.patient(doc)
    make.prescription(doc, other)
    assert sync(make, pat, cursor)["changes"] == []

    today = make.client.get("/v1/me/doses/today", headers=pat.headers).get_json()
    dose = today["doses"][-1]
    r = make.client.post(f"/v1/doses/{dose['id']}/taken", json={}, headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    plan = create(make, doc, pat, rx).get_json()
    reported = make.client.post(
        f"/v1/patients/{pat.patient_id}/reported-products",
        json={"name": "alcohol"},
        headers=pat.headers,
    ).get_json()
    found = [f["id"] for f in reported["findings"]]
    assert found, "alcohol with diazepam is a finding"

    page = sync(make, pat, cursor)
    assert sorted(listed(page)) == sorted(
        [
            ("dose", dose["id"], "upsert"),
            ("taper_plan", plan["id"], "upsert"),
            ("prescription", rx["id"], "upsert"),  # it now names its plan
            *[("finding", f, "upsert") for f in found],
        ]
    )
    assert page["has_more"] is False
    cursor = page["next_cursor"]

    # A finding no longer in force is removed.
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/reported-products/{reported['id']}/end",
        headers=pat.headers,
    )
    assert r.status_code == 200, r.get_json()
    assert sorted(listed(sync(make, pat, cursor))) == sorted(
        ("finding", f, "remove") for f in found
    )
    del other


def test_paging_with_has_more_misses_nothing(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    ids = [rx["id"]]
    for drug in ("sertraline", "lisinopril", "metformin"):
        ids.append(make.prescription(doc, pat, drug=drug, dose={"amount": 10, "unit": "mg"})["id"])
    whole = listed(sync(make, pat))
    assert [c[1] for c in whole if c[0] == "prescription"] == ids
    pages, cursor = [], None
    while True:
        page = sync(make, pat, cursor, limit=1)
        pages.append(page)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [change for page in pages for change in listed(page)] == whole
    assert [page["has_more"] for page in pages] == [True] * (len(pages) - 1) + [False]
    assert all(len(page["changes"]) == 1 for page in pages)


def test_a_cursor_is_opaque_and_the_patients_own(make: Builders, clock: FrozenClock) -> None:
    doc, pat, _ = setup(make, clock)
    other = make.patient(doc)
    cursor = sync(make, pat)["next_cursor"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for since in (tampered, "not-a-cursor", sync(make, other)["next_cursor"]):
        r = make.client.get(URL, query_string={"since": since}, headers=pat.headers)
        assert r.status_code == 400, r.get_json()
        assert list(r.get_json()["errors"]) == ["query.since"]
    r = make.client.get(URL, query_string={"limit": 0}, headers=pat.headers)
    assert r.status_code == 422
    assert "query.limit" in r.get_json()["errors"]
    assert make.client.get(URL, headers=doc.headers).status_code == 403
    assert make.client.get(URL).status_code == 401


def test_a_change_committed_while_the_app_reads_is_not_skipped(
    app: Flask, make: Builders, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writes its audit entry and holds its commit; B, a later change of the same
    record, comes after it; the app reads in between. Its next sync has both."""
    doc, pat, rx = setup(make, clock)
    cursor = sync(make, pat)["next_cursor"]
    today = make.client.get("/v1/me/doses/today", headers=pat.headers).get_json()
    dose = today["doses"][-1]
    held, release, read = threading.Event(), threading.Event(), threading.Event()
    mine = threading.local()
    commit, after = UnitOfWork.commit, ChangesRepository.after

    def slow_commit(self: UnitOfWork) -> None:
        if getattr(mine, "hold", False) and self.audit._pending:
            self.audit.write()  # A's entry, at the end of the chain, not yet committed
            held.set()
            assert release.wait(10)
        commit(self)

    def reading(self: ChangesRepository, *args: Any, **kwargs: Any) -> Any:
        found = after(self, *args, **kwargs)
        read.set()
        return found

    monkeypatch.setattr(UnitOfWork, "commit", slow_commit)
    monkeypatch.setattr(ChangesRepository, "after", reading)
    answers: dict[str, Any] = {}

    def log_dose() -> None:
        mine.hold = True
        answers["a"] = app.test_client().post(
            f"/v1/doses/{dose['id']}/taken", json={}, headers=pat.headers
        )

    def revise() -> None:
        answers["b"] = app.test_client().post(
            f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/pause",
            json={"reason": "on holiday", "abrupt_stop_reason": "short break"},
            headers=doc.headers,
        )

    def app_syncs() -> None:
        r = app.test_client().get(URL, query_string={"since": cursor}, headers=pat.headers)
        answers["read"] = r.get_json()

    threads = [threading.Thread(target=log_dose)]
    threads[0].start()
    assert held.wait(10)
    threads += [threading.Thread(target=revise), threading.Thread(target=app_syncs)]
    for t in threads[1:]:
        t.start()
    assert read.wait(10)
    release.set()
    for t in threads:
        t.join(20)
    assert answers["a"].status_code == 200, answers["a"].get_json()
    assert answers["b"].status_code == 200, answers["b"].get_json()
    # The read in between saw neither: A had not committed and B waited for A.
    assert answers["read"]["changes"] == []
    later = sync(make, pat, answers["read"]["next_cursor"])
    assert sorted(listed(later)) == [
        ("dose", dose["id"], "upsert"),
        ("prescription", rx["id"], "upsert"),
    ]


def test_a_dose_the_scheduler_marks_missed_is_listed(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    _, pat, _ = setup(make, clock)
    today = make.client.get("/v1/me/doses/today", headers=pat.headers).get_json()
    pending = [d for d in today["doses"] if d["status"] in ("pending", "reminded")]
    assert pending
    cursor = sync(make, pat)["next_cursor"]
    latest = max(dt.datetime.fromisoformat(d["scheduled_at"]) for d in pending)
    clock.now = latest + DEFAULT_POLICY.missed_after + dt.timedelta(minutes=1)
    summary = follow_up_missed(uow=database.uow(), clock=clock, policy=DEFAULT_POLICY)
    assert summary.missed >= len(pending)
    page = sync(make, pat, cursor)
    assert {("dose", d["id"], "upsert") for d in pending} <= set(listed(page))
    assert {c["type"] for c in page["changes"]} == {"dose"}
