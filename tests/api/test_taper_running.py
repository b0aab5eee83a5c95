"""A running taper over HTTP: stepping back to the last tolerated dose, withdrawal
self-reports that propose a hold without changing a dose, and the plan's chart."""

from __future__ import annotations

import datetime as dt
import itertools
import xml.etree.ElementTree as ET
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from schedules.app import Jobs
from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.log import LogNotifier
from service.usecases.reminders import ReminderPolicy
from tests.api.test_taper_plans import act, approval, create, setup
from tests.conftest import Account, Builders, FrozenClock, settings_for

LONDON = zoneinfo.ZoneInfo("Europe/London")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the months these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


def at_london(day: str, hh_mm: str = "00:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hh_mm}").replace(tzinfo=LONDON).astimezone(dt.UTC)


def running(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase, **kw: Any
) -> tuple[Account, Account, dict[str, Any], dict[str, Any], Jobs]:
    """The diazepam plan of test_taper_plans, approved and started by the scheduler."""
    doc, pat, rx = setup(make, clock)
    r = create(make, doc, pat, rx, **kw)
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    r = act(make, doc, plan, "approve", **approval(plan))
    assert r.status_code == 200, r.get_json()
    jobs = Jobs(
        database=database, kb=kb, notifier=LogNotifier(), policy=ReminderPolicy(), clock=clock
    )
    clock.now = at_london(plan["steps"][0]["start_date"], "00:05")
    jobs.advance_tapers()
    return doc, pat, rx, r.get_json(), jobs


def get_plan(make: Builders, who: Account, plan: dict[str, Any]) -> dict[str, Any]:
    r = make.client.get(f"/v1/taper-plans/{plan['id']}", headers=who.headers)
    assert r.status_code == 200, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def test_step_back_returns_to_the_last_tolerated_dose_and_retries_more_slowly(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan, jobs = running(make, clock, database, kb)
    steps = plan["steps"]
    refused = act(make, doc, plan, "step-back", reason="too early")
    assert refused.status_code == 409, "no step to go back from at the first dose"

    clock.now = at_london(steps[1]["start_date"], "00:05")
    jobs.advance_tapers()
    clock.now = at_london(steps[1]["start_date"], "12:00") + dt.timedelta(days=2)
    today = clock.now.astimezone(LONDON).date()
    assert act(make, pat, plan, "step-back", reason="x").status_code == 403
    assert act(make, doc, plan, "step-back", reason="x", hold_days=0).status_code == 422
    r = act(make, doc, plan, "step-back", reason="rebound anxiety", hold_days=21)
    assert r.status_code == 200, r.get_json()
    back = r.get_json()
    new = back["steps"]
    assert new[0] == steps[0], "a completed step never changes"
    assert (new[1]["daily_dose_mg"], new[1]["end_date"]) == (
        steps[1]["daily_dose_mg"],
        today.isoformat(),
    )
    assert new[2]["daily_dose_mg"] == steps[0]["daily_dose_mg"]
    assert new[2]["flags"] == ["step_back"]
    assert new[2]["cut_pct"] < 0
    assert (new[2]["start_date"], new[2]["days"]) == (
        (today + dt.timedelta(days=1)).isoformat(),
        21,
    )
    retried = new[3:]
    assert [s["daily_dose_mg"] for s in retried] == [s["daily_dose_mg"] for s in steps[1:]]
    assert all(s["days"] >= max(o["days"], 21) for s, o in zip(retried, steps[1:], strict=True))
    for a, b in itertools.pairwise(new):
        assert dt.date.fromisoformat(a["end_date"]) + dt.timedelta(days=1) == dt.date.fromisoformat(
            b["start_date"]
        ), "dates stay contiguous"
    assert back["approved_steps"] == [
        s["index"] for s in new if "exceeds_cap_needs_approval" in s["flags"]
    ]
    assert (back["status"], back["versions"][-1]["change"]) == ("active", "step-back")

    clock.now = at_london(new[2]["start_date"], "00:01")
    jobs.advance_tapers()
    now = get_plan(make, doc, plan)
    assert [r["step_index"] for r in now["step_records"]] == [0, 1, 2]
    rx_now = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}", headers=doc.headers
    ).get_json()
    amounts = rx_now["schedule"]["amounts"] or [rx_now["dose"]["amount"]] * 2
    assert sum(Decimal(str(a)) for a in amounts) == Decimal(str(steps[0]["daily_dose_mg"]))


def report(make: Builders, who: Account, plan: dict[str, Any], **body: Any) -> Any:
    return make.client.post(
        f"/v1/taper-plans/{plan['id']}/symptom-reports", json=body, headers=who.headers
    )


def care_team_messages(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT recipient_id, payload FROM notifications WHERE kind = :k"),
                {"k": "taper-symptoms-care-team"},
            )
        ]


def test_symptoms_above_the_threshold_propose_a_hold_and_tell_the_care_team(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan, _ = running(make, clock, database, kb, symptom_threshold=10)
    r = make.client.get(f"/v1/taper-plans/{plan['id']}/symptom-reports", headers=pat.headers)
    assert r.status_code == 200, r.get_json()
    scale = r.get_json()
    assert (scale["scale"]["id"], scale["threshold"], scale["reports"]) == ("ciwa-b-short", 10, [])
    items = {i["id"]: 0 for i in scale["scale"]["items"]}
    before = get_plan(make, doc, plan)

    mild = report(make, pat, plan, items={**items, "anxiety": 2, "sleep": 3}, total=5)
    assert mild.status_code == 201, mild.get_json()
    assert (mild.get_json()["total"], mild.get_json()["hold_proposed"]) == (5, False)
    assert care_team_messages(database) == []

    clock.advance(hours=6)
    bad = {**items, "anxiety": 4, "sleep": 3, "tremor": 3}
    severe = report(make, pat, plan, items=bad, note="shaky all day")
    assert severe.status_code == 201, severe.get_json()
    assert (severe.get_json()["total"], severe.get_json()["hold_proposed"]) == (10, True)
    (message,) = care_team_messages(database)
    assert str(message[0]).replace("-", "") == str(doc.id).replace("-", "")

    view = get_plan(make, doc, plan)
    assert view["hold_proposed"] is True
    assert [s["total"] for s in view["symptom_reports"]] == [10, 5]
    assert (view["status"], view["version"]) == (before["status"], before["version"])
    rx_now = make.client.get(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}", headers=doc.headers
    ).get_json()
    assert rx_now["version"] == rx["version"], "a report never changes a dose"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"add": {"seizure": 2}}, "items.seizure"),
        ({"add": {"appetite": 1}}, "items.appetite"),
        ({"add": {"tremor": 5}}, "items.tremor"),
        ({"total": 3}, "total"),
    ],
)
def test_an_incomplete_or_inconsistent_report_is_refused_and_not_stored(
    make: Builders,
    clock: FrozenClock,
    database: Database,
    kb: KnowledgeBase,
    change: dict[str, Any],
    field: str,
) -> None:
    _, pat, _, plan, _ = running(make, clock, database, kb)
    scale = make.client.get(
        f"/v1/taper-plans/{plan['id']}/symptom-reports", headers=pat.headers
    ).get_json()
    items = {i["id"]: 1 for i in scale["scale"]["items"]}
    items.pop(change.get("drop", ""), None)
    items.update(change.get("add", {}))
    r = report(make, pat, plan, items=items, total=change.get("total"))
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"], r.get_json()
    assert get_plan(make, pat, plan)["symptom_reports"] == []


def test_who_may_report_and_when(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, _ = running(make, clock, database, kb)
    items = dict.fromkeys(("anxiety", "irritability", "sleep", "tremor", "sweating"), 0)
    items |= dict.fromkeys(("heart_racing", "muscle_aches", "sensitivity", "concentration"), 0)
    items["nausea"] = 1
    outsider = make.clinician()
    assert report(make, outsider, plan, items=items).status_code == 404
    assert report(make, make.admin(), plan, items=items).status_code == 404
    assert report(make, doc, plan, items=items).status_code == 201, "on the patient's behalf"
    act(make, doc, plan, "cancel", reason="stopped")
    assert report(make, pat, plan, items=items).status_code == 409


def test_a_threshold_beyond_the_scale_is_refused(make: Builders, clock: FrozenClock) -> None:
    doc, pat, rx = setup(make, clock)
    r = create(make, doc, pat, rx, symptom_threshold=41)
    assert r.status_code == 422, r.get_json()
    assert "symptom_threshold" in r.get_json()["errors"]


def test_the_chart_shows_each_step_today_and_what_is_completed(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, jobs = running(make, clock, database, kb)
    steps = plan["steps"]
    for step in steps[1:3]:
        clock.now = at_london(step["start_date"], "00:05")
        jobs.advance_tapers()
    clock.now = at_london(steps[2]["start_date"], "15:00")
    r = make.client.get(f"/v1/taper-plans/{plan['id']}/chart.svg", headers=pat.headers)
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.get_data())  # noqa: S314 (the service's own output)
    drawn = root.findall(f".//{SVG}g[@data-step]")
    assert [int(g.get("data-step", "-1")) for g in drawn] == [s["index"] for s in steps]
    shaded = [e for e in root.iter() if "completed" in (e.get("class") or "").split()]
    assert len(shaded) == 2, "steps 0 and 1 have ended"
    assert [e for e in root.iter() if e.get("class") == "today"]
    outsider = make.clinician()
    denied = make.client.get(f"/v1/taper-plans/{plan['id']}/chart.svg", headers=outsider.headers)
    assert denied.status_code == 404
    assert doc.id != outsider.id


def test_interaction_checks_count_a_tapered_drug_at_its_dose_now(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan, jobs = running(make, clock, database, kb)
    steps = plan["steps"]
    clock.now = at_london(steps[1]["start_date"], "09:00")
    jobs.advance_tapers()
    r = make.client.post(
        "/v1/interactions/check",
        json={"drugs": ["oxycodone"], "patient_id": str(pat.patient_id)},
        headers=doc.headers,
    )
    assert r.status_code == 200, r.get_json()
    tapered = [
        d for f in r.get_json()["findings"] for d in f["drugs"] if d["prescription_id"] == rx["id"]
    ]
    assert tapered, "diazepam under a taper still counts against a new opioid"
    assert {d["taper"] for d in tapered} == {
        f"Being tapered: {steps[1]['daily_dose_mg']:g} mg a day now, "
        f"{steps[-1]['daily_dose_mg']:g} mg a day from {steps[-1]['start_date']}."
    }
    plain = make.client.post(
        "/v1/interactions/check",
        json={"drugs": ["oxycodone", "lorazepam"]},
        headers=doc.headers,
    ).get_json()
    assert all(d["taper"] is None for f in plain["findings"] for d in f["drugs"])


def test_a_second_step_back_goes_further_up_never_down(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, _, _, plan, jobs = running(make, clock, database, kb)
    steps = plan["steps"]
    for step in steps[1:3]:
        clock.now = at_london(step["start_date"], "00:05")
        jobs.advance_tapers()
    clock.now = at_london(steps[2]["start_date"], "12:00")
    first = act(make, doc, plan, "step-back", reason="symptoms", hold_days=7).get_json()
    back = first["steps"][3]
    assert back["daily_dose_mg"] == steps[1]["daily_dose_mg"]
    clock.now = at_london(back["start_date"], "00:05")
    jobs.advance_tapers()
    clock.now += dt.timedelta(hours=12)
    r = act(make, doc, plan, "step-back", reason="still unwell", hold_days=7)
    assert r.status_code == 200, r.get_json()
    again = r.get_json()["steps"][4]
    assert again["flags"] == ["step_back"]
    assert again["daily_dose_mg"] == steps[0]["daily_dose_mg"], "back to the dose before"
    assert again["daily_dose_mg"] > back["daily_dose_mg"]


def test_a_step_back_just_after_midnight_holds_the_started_step(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    """Before the scheduler has started today's step, a step back goes from the step
    under way; the step not yet started never starts."""
    doc, _, _, plan, jobs = running(make, clock, database, kb)
    steps = plan["steps"]
    clock.now = at_london(steps[1]["start_date"], "00:05")
    jobs.advance_tapers()
    clock.now = at_london(steps[2]["start_date"], "00:00") + dt.timedelta(seconds=20)
    r = act(make, doc, plan, "step-back", reason="symptoms", hold_days=7)
    assert r.status_code == 200, r.get_json()
    new = r.get_json()["steps"]
    assert new[1]["end_date"] == steps[2]["start_date"], "step 1 goes on today"
    assert new[2]["daily_dose_mg"] == steps[0]["daily_dose_mg"]
    jobs.advance_tapers()
    assert [s["step_index"] for s in get_plan(make, doc, plan)["step_records"]] == [0, 1]


def test_a_tapering_prescription_is_changed_through_its_plan(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, rx, plan, jobs = running(make, clock, database, kb)
    url = f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"
    r = make.client.patch(
        url, json={"dose": {"amount": 5, "unit": "mg"}, "reason": "x"}, headers=doc.headers
    )
    assert r.status_code == 409, r.get_json()
    assert "dose" in r.get_json()["errors"]
    r = make.client.patch(url, json={"instructions": "with water"}, headers=doc.headers)
    assert r.status_code == 200, "what the plan does not set can still change"

    # Steps do not start while the prescription is paused; after it resumes the
    # late step starts that day and the plan moves with it.
    steps = plan["steps"]
    reason = {"reason": "in hospital"}
    held = {**reason, "abrupt_stop_reason": "nil by mouth"}
    assert make.client.post(f"{url}/pause", json=held, headers=doc.headers).status_code == 200
    clock.now = at_london(steps[1]["start_date"], "00:05")
    jobs.advance_tapers()
    assert [s["step_index"] for s in get_plan(make, doc, plan)["step_records"]] == [0]
    clock.now = at_london(steps[1]["start_date"], "10:00") + dt.timedelta(days=3)
    assert make.client.post(f"{url}/resume", json=reason, headers=doc.headers).status_code == 200
    clock.now += dt.timedelta(minutes=10)
    jobs.advance_tapers()
    view = get_plan(make, doc, plan)
    assert [s["step_index"] for s in view["step_records"]] == [0, 1]
    assert view["step_records"][1]["start_date"] == clock.now.astimezone(LONDON).date().isoformat()
    assert view["versions"][-1]["change"] == "delay"


def test_a_new_time_zone_moves_the_next_step_to_midnight_there(
    make: Builders, clock: FrozenClock, database: Database, kb: KnowledgeBase
) -> None:
    doc, pat, _, plan, _ = running(make, clock, database, kb)
    before = get_plan(make, doc, plan)["next_step_at"]
    r = make.client.patch(
        f"/v1/patients/{pat.patient_id}", json={"timezone": "Pacific/Auckland"}, headers=doc.headers
    )
    assert r.status_code == 200, r.get_json()
    after = get_plan(make, doc, plan)["next_step_at"]
    midnight = dt.datetime.fromisoformat(plan["steps"][1]["start_date"]).replace(
        tzinfo=zoneinfo.ZoneInfo("Pacific/Auckland")
    )
    assert after == midnight.astimezone(dt.UTC).isoformat()
    assert after != before
