"""The worklist at /console/: each kind of item reaches the care team and no one else,
most urgent first and nearest now first; marking an item done takes it off the
team's worklists, is audited, and is refused for another team's item.

Marking done has no JSON API equivalent, so the audit comparison with the API does
not apply; the audit entry itself is checked.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from tests.api.test_taper_plans import act, approval, create, setup
from tests.api.test_taper_running import report
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.console.conftest import Console

NOW = dt.datetime(2026, 6, 13, 13, tzinfo=dt.UTC)
QUIET = {"anxiety": 0, "sleep": 0}
_ITEM = re.compile(
    r'<li class="item sev-(?P<band>\w+)".*?<time datetime="(?P<when>[^"]+)".*?'
    r'name="key" value="(?P<key>[^"]+)"',
    re.S,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the days these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


@dataclass
class World:
    doc: Account
    tapering: Account
    drafting: Account
    plan: dict[str, Any]
    draft: dict[str, Any]
    registered: str


def _post(make: Builders, who: Account, path: str, body: dict[str, Any]) -> Any:
    r = make.client.post(path, json=body, headers=who.headers)
    assert r.status_code in (200, 201, 202), r.get_json()
    return r.get_json()


def world(make: Builders, clock: FrozenClock) -> World:
    """Two patients of one clinician, and one registered but never activated; the
    clock ends at NOW. `tapering` has an approved diazepam plan whose first step
    starts on 2026-06-15 and two symptom reports (a red flag, then a proposed hold);
    `drafting` has a draft plan, alcohol reported with diazepam (a major finding) and
    a dose skipped; neither logged any other dose."""
    doc, tapering, rx = setup(make, clock)  # the clock at 2026-06-10 12:00 UTC
    plan = create(make, doc, tapering, rx, symptom_threshold=10).get_json()
    assert act(make, doc, plan, "approve", **approval(plan)).status_code == 200
    drafting = make.patient(doc, timezone="Europe/London")
    rx2 = make.prescription(
        doc,
        drafting,
        drug="diazepam",
        dose={"amount": 5, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    draft = create(make, doc, drafting, rx2, start_dose_mg=10, start_date="2026-06-20").get_json()
    registered = f"new-{uuid.uuid4().hex[:6]}@example.org"
    body = {"name": "Noor", "email": registered, "timezone": "UTC", "date_of_birth": "1990-01-01"}
    _post(make, doc, "/v1/patients", body)
    clock.now = dt.datetime(2026, 6, 11, 10, tzinfo=dt.UTC)
    path = f"/v1/patients/{drafting.patient_id}/reported-products"
    _post(make, drafting, path, {"name": "alcohol", "how_often": "most evenings"})
    clock.now = dt.datetime(2026, 6, 12, 9, tzinfo=dt.UTC)
    assert report(make, tapering, plan, items={**QUIET, "seizure": 1}).status_code == 201
    clock.now = dt.datetime(2026, 6, 12, 10, tzinfo=dt.UTC)
    held = {**QUIET, "anxiety": 4, "sleep": 4, "tremor": 4}
    assert report(make, tapering, plan, items=held).status_code == 201
    clock.now = dt.datetime(2026, 6, 12, 12, tzinfo=dt.UTC)
    skip = dose_at(make, drafting, dt.datetime(2026, 6, 12, 7, tzinfo=dt.UTC))
    _post(make, drafting, f"/v1/doses/{skip}/skipped", {"reason": "felt drowsy"})
    clock.now = NOW
    return World(doc, tapering, drafting, plan, draft, registered)


def dose_at(make: Builders, pat: Account, at: dt.datetime) -> str:
    window = {"from": at.isoformat(), "to": (at + dt.timedelta(minutes=1)).isoformat()}
    r = make.client.get(
        f"/v1/patients/{pat.patient_id}/doses", query_string=window, headers=pat.headers
    )
    assert r.status_code == 200, r.get_json()
    (dose,) = r.get_json()
    return str(dose["id"])


def sign_in(console: Console, who: Account) -> None:
    """Sign in, then load the worklist (for the new session's form token)."""
    assert console.sign_in(who).status_code == 302
    assert console.get("/console/").status_code == 200


def done(console: Console, key: str) -> int:
    """Mark an item done as the form does; the status of the answer."""
    return console.post("/console/worklist/done", {"key": key}).status_code


def items(console: Console) -> list[dict[str, str]]:
    r = console.get("/console/")
    assert r.status_code == 200, r.get_data(as_text=True)
    return [m.groupdict() for m in _ITEM.finditer(r.get_data(as_text=True))]


def kinds(found: list[dict[str, str]]) -> list[str]:
    return [i["key"].split(":")[0] for i in found]


def rows(database: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def finding_row(database: Database) -> str:
    (found,) = rows(database, "SELECT id FROM patient_findings WHERE severity = 'major'")
    return str(uuid.UUID(str(found["id"])))


def test_every_kind_reaches_the_care_team_most_urgent_and_nearest_now_first(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    w = world(make, clock)
    sign_in(console, w.doc)
    found = items(console)
    order = kinds(found)
    doses = order.count("dose")
    assert doses >= 4
    assert order == [
        "symptom",
        "symptom",
        "finding",
        *["dose"] * doses,
        "draft",
        "step",
        "activation",
    ]
    assert [i["band"] for i in found[:3]] == ["high", "high", "high"]
    assert {i["band"] for i in found if i["key"].startswith("dose:")} == {"mid"}
    assert [i["band"] for i in found[-3:]] == ["low", "low", "low"]
    dose_times = [i["when"] for i in found if i["key"].startswith("dose:")]
    assert dose_times == sorted(dose_times, reverse=True), "newest first"
    keys = [i["key"] for i in found]
    assert f"draft:{w.draft['id']}" in keys
    assert f"step:{w.plan['id']}:0" in keys
    assert f"finding:{finding_row(database)}" in keys

    page = console.get("/console/").get_data(as_text=True)
    assert "<h1>Worklist</h1>" in page
    assert "Red flag in a symptom report" in page
    assert "A seizure (fit)" in page
    assert "Hold proposed" in page
    assert "New major finding" in page
    assert "alcohol" in page
    assert "Skipped dose: diazepam 5 mg" in page
    assert "felt drowsy" in page
    assert "Missed dose: diazepam" in page
    assert "Taper plan waiting for approval" in page
    assert "Diazepam taper starts on 2026-06-15" in page
    assert w.registered in page
    assert "Not activated 72 hours after registration" in page
    assert page.count("Mark done</button>") == len(found)
    chart = f"/console/patients/{w.drafting.patient_id}#h-findings"
    assert f'href="{chart}"' in page
    assert f'href="/console/patients/{w.tapering.patient_id}/tapers/{w.plan["id"]}' in page
    assert 'href="/console/patients"' in page


def test_other_clinicians_see_none_of_it(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    world(make, clock)
    sign_in(console, make.clinician())
    page = console.get("/console/").get_data(as_text=True)
    assert 'class="item' not in page
    assert "Nothing needs you now." in page


def test_a_second_member_of_the_team_sees_that_patients_items_only(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    w = world(make, clock)
    colleague = make.clinician()
    path = f"/v1/patients/{w.tapering.patient_id}/care-team"
    _post(make, make.admin(), path, {"clinician_id": str(colleague.id)})
    sign_in(console, colleague)
    order = kinds(items(console))
    assert set(order) == {"symptom", "dose", "step"}, "no enrolment of the colleague's own"


def test_reading_the_worklist_is_audited_per_patient_shown(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    w = world(make, clock)
    sign_in(console, w.doc)
    items(console)
    reads = rows(
        database,
        "SELECT patient_id, actor_id FROM audit_events WHERE subtype = 'worklist.read'",
    )
    shown = {str(uuid.UUID(str(r["patient_id"]))) for r in reads}
    assert shown == {str(w.tapering.patient_id), str(w.drafting.patient_id)}
    assert {str(uuid.UUID(str(r["actor_id"]))) for r in reads} == {str(w.doc.id)}


def test_marking_done_takes_the_item_off_the_teams_worklists_and_is_audited(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    w = world(make, clock)
    sign_in(console, w.doc)
    red_flag = items(console)[0]["key"]
    r = console.post("/console/worklist/done", {"key": red_flag})
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/console/")
    page = console.get("/console/").get_data(as_text=True)
    assert "Marked done." in page
    assert red_flag not in page

    marks = rows(database, "SELECT item_key, kind, patient_id, marked_by FROM worklist_marks")
    assert len(marks) == 1
    assert (marks[0]["item_key"], marks[0]["kind"]) == (red_flag, "symptom")
    assert str(uuid.UUID(str(marks[0]["patient_id"]))) == str(w.tapering.patient_id)
    done = rows(
        database,
        "SELECT action, actor_id, patient_id, entity_type, after FROM audit_events "
        "WHERE subtype = 'worklist.done'",
    )
    assert len(done) == 1
    entry = done[0]
    after = entry["after"] if isinstance(entry["after"], dict) else json.loads(entry["after"])
    assert (entry["action"], entry["entity_type"]) == ("C", "WorklistMark")
    assert str(uuid.UUID(str(entry["actor_id"]))) == str(w.doc.id)
    assert str(uuid.UUID(str(entry["patient_id"]))) == str(w.tapering.patient_id)
    assert after == {"item": red_flag, "kind": "symptom", "note": None}

    again = console.post("/console/worklist/done", {"key": red_flag})
    assert again.status_code == 302, "marking twice is no error"
    assert len(rows(database, "SELECT id FROM worklist_marks")) == 1
    audited = "SELECT id FROM audit_events WHERE subtype = 'worklist.done'"
    assert len(rows(database, audited)) == 1, "and writes nothing more"

    colleague = make.clinician()
    path = f"/v1/patients/{w.tapering.patient_id}/care-team"
    _post(make, make.admin(), path, {"clinician_id": str(colleague.id)})
    other = Console(console.client.application.test_client())
    sign_in(other, colleague)
    assert red_flag not in [i["key"] for i in items(other)], "done for the whole team"


def test_htmx_swaps_the_item_out_and_says_so(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    w = world(make, clock)
    sign_in(console, w.doc)
    key = f"draft:{w.draft['id']}"
    assert key in [i["key"] for i in items(console)]
    r = console.htmx("POST", "/console/worklist/done", {"key": key})
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert 'hx-swap-oob="innerHTML"' in body
    assert "Marked done." in body
    assert "<li" not in body
    assert key not in [i["key"] for i in items(console)]
    assert len(rows(database, "SELECT id FROM worklist_marks WHERE kind = 'draft'")) == 1


def test_another_teams_item_is_not_found_and_the_attempt_is_audited(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    w = world(make, clock)
    key = f"draft:{w.draft['id']}"
    sign_in(console, make.clinician())
    r = console.post("/console/worklist/done", {"key": key})
    assert r.status_code == 404
    assert "No worklist item" in r.get_data(as_text=True)
    assert rows(database, "SELECT id FROM worklist_marks") == []
    denied = rows(database, "SELECT patient_id FROM audit_events WHERE subtype = 'access.denied'")
    assert [str(uuid.UUID(str(d["patient_id"]))) for d in denied] == [str(w.drafting.patient_id)]


@pytest.mark.parametrize(
    "key",
    [
        f"dose:{uuid.uuid4()}",
        f"step:{uuid.uuid4()}:0",
        "activation:not-an-id",
        "dose",
        f"dose:{uuid.uuid4()}:3",
        "",
    ],
)
def test_keys_that_name_nothing_are_not_found(
    signed_in: tuple[Console, Account], key: str, database: Database
) -> None:
    console, _ = signed_in
    console.get("/console/")
    assert done(console, key) == 404
    assert rows(database, "SELECT id FROM worklist_marks") == []


def test_a_step_beyond_the_plan_and_another_clinicians_enrolment_are_not_found(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    w = world(make, clock)
    sign_in(console, w.doc)
    steps = len(w.plan["steps"])
    assert done(console, f"step:{w.plan['id']}:{steps}") == 404
    activation = next(i["key"] for i in items(console) if i["key"].startswith("activation:"))
    assert done(console, f"step:{w.plan['id']}:0") == 302
    stranger = Console(console.client.application.test_client())
    sign_in(stranger, make.clinician())
    assert done(stranger, activation) == 404
    assert done(console, activation) == 302
    assert kinds(items(console))[-1] == "draft"


def test_administrators_are_pointed_to_staff_and_care_teams(
    console: Console, make: Builders
) -> None:
    sign_in(console, make.admin())
    r = console.get("/console/")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "<h1>Worklist</h1>" in page
    assert 'class="item' not in page
    assert 'href="/console/admin/staff">Staff and care teams</a>' in page
    assert done(console, f"dose:{uuid.uuid4()}") == 403


def test_signed_out_visitors_are_sent_to_sign_in(console: Console) -> None:
    r = console.post("/console/worklist/done", {"key": f"dose:{uuid.uuid4()}"})
    assert r.status_code == 302
    assert "/console/login" in r.headers["Location"]
