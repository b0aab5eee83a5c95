"""A pause with a resume date ends by itself: the scheduler resumes the prescription
at the start of that date where the patient lives, and plans its doses again."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from sqlalchemy import text

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.notify.log import LogNotifier
from service.usecases.reminders import ReminderPolicy
from tests.conftest import Builders, FrozenClock, settings_for

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=60 * 86400)


def test_the_scheduler_resumes_a_pause_on_its_date_in_the_patients_zone(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    clock.now = dt.datetime(2026, 6, 10, 3, 0, tzinfo=dt.UTC)  # 12:00 in Tokyo
    doc = make.clinician()
    pat = make.patient(doc, timezone="Asia/Tokyo")
    rx = make.prescription(
        doc, pat, drug="diazepam", dose={"amount": 5, "unit": "mg"}, start_date="2026-06-01"
    )
    url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"
    body = {"reason": "endoscopy", "resume_on": "2026-06-12"}
    assert make.client.post(f"{url}/pause", json=body, headers=doc.headers).status_code == 200
    jobs = Jobs(
        database=database,
        kb=knowledge.load(),
        notifier=LogNotifier(),
        policy=ReminderPolicy(),
        clock=clock,
    )
    # 2026-06-11 23:59 in Tokyo: still paused.
    clock.now = dt.datetime(2026, 6, 11, 23, 59, tzinfo=TOKYO).astimezone(dt.UTC)
    jobs.run_once()
    assert make.client.get(url, headers=doc.headers).get_json()["status"] == "paused"
    # Midnight in Tokyo is still 2026-06-11 in UTC: resumed all the same, once.
    clock.now = dt.datetime(2026, 6, 12, 0, 1, tzinfo=TOKYO).astimezone(dt.UTC)
    jobs.run_once()
    jobs.run_once()
    current = make.client.get(url, headers=doc.headers).get_json()
    assert (current["status"], current["change"], current["version"]) == ("active", "resume", 3)
    assert "2026-06-12" in current["reason"]
    assert current["created_by"] == str(doc.id)
    doses = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses?from=2026-06-12T00:00:00Z&to=2026-06-13T00:00:00Z",
        headers=doc.headers,
    ).get_json()
    assert doses
    assert all(d["prescription_id"] == rx["id"] for d in doses)


def test_the_sweep_screens_records_on_a_birthday_and_after_an_upgrade(
    make: Builders, clock: FrozenClock, database: Database
) -> None:
    clock.now = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
    doc = make.clinician()
    # 65 on 2026-06-12.
    pat = make.patient(doc, date_of_birth="1961-06-12", timezone="UTC")
    make.prescription(doc, pat, drug="diazepam", dose={"amount": 5, "unit": "mg"})
    jobs = Jobs(
        database=database,
        kb=knowledge.load(),
        notifier=LogNotifier(),
        policy=ReminderPolicy(),
        clock=clock,
    )
    url = f"/v1/patients/{pat.patient_id}/findings"

    def kinds() -> list[str]:
        return [f["kind"] for f in make.client.get(url, headers=doc.headers).get_json()]

    jobs.rescreen()
    assert "drug-age" not in kinds()
    clock.now = dt.datetime(2026, 6, 12, 12, 0, tzinfo=dt.UTC)
    jobs.rescreen()
    assert "drug-age" in kinds()
    # A record screened before this release (or with another knowledge base) is
    # screened on the next sweep, whatever its age.
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE patients SET screened_with = 'older'"))
        conn.execute(text("UPDATE patient_findings SET resolved_at = :t"), {"t": clock.now})
    assert kinds() == []
    jobs.rescreen()
    assert "drug-age" in kinds()
