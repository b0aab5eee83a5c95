"""A taper plan's page in the console: approval with what the plan asks confirmed,
pause, resume, extend, step back and cancel, each refused in the wrong state as the
JSON API refuses it and leaving the API's audit entries; the symptom reports beside
the chart."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, cast

import pytest

from schedules.app import Jobs
from service.config import Settings
from service.db.uow import Database
from service.notify.log import LogNotifier
from service.usecases.reminders import ReminderPolicy
from tests.api.test_taper_plans import STEEP, act, approval, create, setup
from tests.api.test_taper_running import at_london
from tests.conftest import Builders, FrozenClock, settings_for
from tests.console.conftest import Console
from tests.console.test_tapers import (
    Writes,
    base,
    change,
    plan_json,
    planner_form,
    save_draft,
    shown,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the months these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


# The manual steps of STEEP, as the planner's text area takes them.
STEEP_LINES = "\n".join(
    f"{s['daily_dose_mg']}, {s['days']}" for s in cast(list[dict[str, int]], STEEP["steps"])
)


def checkboxes(html: str, name: str) -> list[str]:
    return re.findall(rf'type="checkbox" id="[^"]+" name="{name}" value="([^"]+)"', html)


# Steps over the cap by the clinician's choice (confirmed one by one), and cuts the
# halved 5 mg tablets force above it (acknowledged once with the plan).
APPROVALS = [
    pytest.param(
        {"algorithm.kind": "manual", "algorithm.steps": STEEP_LINES},
        {"algorithm": STEEP},
        id="steps-over-the-cap",
    ),
    pytest.param(
        {"algorithm.percent": "10", "floor_dose_mg": "0"},
        {"algorithm": {"kind": "percent", "percent": 10}, "floor_dose_mg": 0},
        id="grid-limited-cuts",
    ),
]


@pytest.mark.parametrize(("fields", "body"), APPROVALS)
def test_approval_needs_what_the_plan_asks_confirmed_as_the_api_does(
    console: Console,
    make: Builders,
    clock: FrozenClock,
    database: Database,
    fields: dict[str, str],
    body: dict[str, Any],
) -> None:
    doc, pat, rx = setup(make, clock)
    api_doc, api_pat, api_rx = setup(make, clock)
    writes = Writes(database, pat, api_pat)
    console.sign_in(doc)
    console.get(f"{base(pat)}/new?prescription={rx['id']}")
    plan_id = save_draft(console, pat, planner_form(rx, **fields))
    html = console.get(f"{base(pat)}/{plan_id}").get_data(as_text=True)
    plan = plan_json(make, doc, plan_id)
    flagged = approval(plan)["approve_flagged"]
    once = [n["code"] for n in plan["notes"] if n["needs_approval"] and n["code"] != "exceeds_cap"]
    assert flagged or once
    offered = {
        "approve_flagged": checkboxes(html, "approve_flagged"),
        "acknowledge": checkboxes(html, "acknowledge"),
    }
    assert offered == {"approve_flagged": [str(i) for i in flagged], "acknowledge": once}
    assert all(f">Confirm step {i}: " in html for i in flagged)
    assert html.count('<tr id="step-') == len(plan["steps"])
    marked = [s["index"] for s in plan["steps"] if s["flags"]]
    assert re.findall(r'<tr id="step-(\d+)" class="flagged', html) == [str(i) for i in marked]

    api_plan = create(make, api_doc, api_pat, api_rx, **body).get_json()
    assert api_plan["steps"] == plan["steps"]
    short = {"approve_flagged": flagged[:-1], "acknowledge": once} if flagged else {}
    api = act(make, api_doc, api_plan, "approve", **short)
    r = change(console, pat, plan_id, "approve", **short)
    assert r.status_code == api.status_code == 409
    assert api.get_json()["message"] in shown(r)
    assert plan_json(make, doc, plan_id)["status"] == "draft"

    api = act(make, api_doc, api_plan, "approve", **approval(api_plan), reason="reviewed")
    assert api.status_code == 200, api.get_json()
    r = change(console, pat, plan_id, "approve", **offered, reason="reviewed")
    assert r.status_code == 302, r.get_data(as_text=True)
    approved = plan_json(make, doc, plan_id)
    assert (approved["status"], approved["approved_steps"]) == ("approved", flagged)
    writes.assert_same()
    page = console.get(f"{base(pat)}/{plan_id}").get_data(as_text=True)
    assert "Plan approved" in page
    assert ">Approve plan</button>" not in page


def jobs_for(make: Builders, database: Database, clock: FrozenClock) -> Jobs:
    kb = make.app.extensions["medtrack"].knowledge
    return Jobs(
        database=database, kb=kb, notifier=LogNotifier(), policy=ReminderPolicy(), clock=clock
    )


def test_a_running_plan_is_changed_and_refused_as_through_the_api(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    api_doc, api_pat, api_rx = setup(make, clock)
    writes = Writes(database, pat, api_pat)
    console.sign_in(doc)
    console.get(f"{base(pat)}/new?prescription={rx['id']}")
    plan_id = save_draft(console, pat, planner_form(rx))
    api_plan = create(make, api_doc, api_pat, api_rx).get_json()
    jobs = jobs_for(make, database, clock)

    def both(action: str, status: int, **body: Any) -> None:
        """The change through the API and through the console, with the same outcome."""
        api = act(make, api_doc, api_plan, action, **body)
        assert api.status_code == status, (action, api.get_json())
        r = change(console, pat, plan_id, action, **body)
        if status == 200:
            assert r.status_code == 302, (action, r.get_data(as_text=True))
            return
        assert r.status_code == status, action
        page = shown(r)
        assert api.get_json()["message"] in page or status == 422, (action, api.get_json())
        for key in api.get_json().get("errors", {}):
            assert f'id="{action}-{key.replace("_", "-")}-error"' in page, (action, key)

    both("pause", 409, reason="too early")
    both("step-back", 409, reason="too early")
    both("approve", 200, **approval(api_plan))
    both("approve", 409, **approval(api_plan))
    both("resume", 409, reason="not paused")
    steps = api_plan["steps"]
    clock.now = at_london(steps[0]["start_date"], "00:05")
    jobs.advance_tapers()
    both("step-back", 409, reason="nothing to go back to")
    clock.now = at_london(steps[1]["start_date"], "00:05")
    jobs.advance_tapers()
    clock.now += dt.timedelta(days=2)
    both("step-back", 422, reason="rebound anxiety", hold_days=0)
    both("step-back", 200, reason="rebound anxiety", hold_days=21)
    both("pause", 422)
    both("pause", 200, reason="withdrawal symptoms")
    both("pause", 409, reason="again")
    clock.now += dt.timedelta(days=5)
    both("resume", 200, reason="symptoms settled")
    both("extend", 422, days=0)
    both("extend", 200, days=7, reason="patient travelling")
    both("cancel", 200, reason="switching drug")
    both("cancel", 409, reason="again")
    both("extend", 409, days=3)

    ours = plan_json(make, doc, plan_id)
    theirs = plan_json(make, api_doc, api_plan["id"])
    assert [v["change"] for v in ours["versions"]] == [v["change"] for v in theirs["versions"]]
    assert ours["steps"] == theirs["steps"]
    writes.assert_same()


def test_the_plan_page_offers_the_changes_its_status_allows_with_their_labels(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    console.sign_in(doc)
    console.get(f"{base(pat)}/new?prescription={rx['id']}")
    plan_id = save_draft(console, pat, planner_form(rx))
    draft = console.get(f"{base(pat)}/{plan_id}").get_data(as_text=True)
    assert ">Approve plan</button>" in draft
    assert ">Cancel plan</button>" in draft
    assert ">Pause</button>" not in draft
    change(console, pat, plan_id, "approve", **approval(plan_json(make, doc, plan_id)))
    approved = console.get(f"{base(pat)}/{plan_id}").get_data(as_text=True)
    for button in ("Pause", "Extend", "Cancel plan"):
        assert f">{button}</button>" in approved, button
    assert ">Resume</button>" not in approved
    assert approved.count(">Reason</label>") == 3
    change(console, pat, plan_id, "pause", reason="withdrawal symptoms")
    paused = console.get(f"{base(pat)}/{plan_id}").get_data(as_text=True)
    for button in ("Resume", "Extend", "Step back", "Cancel plan"):
        assert f">{button}</button>" in paused, button
    assert "withdrawal symptoms" in paused, "the version's reason"
    refused = change(console, pat, plan_id, "extend", days="ninety", reason="kept")
    assert refused.status_code == 422
    assert 'value="ninety"' in refused.get_data(as_text=True), "what was typed is kept"


def test_symptom_reports_are_shown_beside_the_chart(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx = setup(make, clock)
    plan = create(make, doc, pat, rx, symptom_threshold=10).get_json()
    act(make, doc, plan, "approve", **approval(plan))
    clock.now = at_london(plan["steps"][0]["start_date"], "00:05")
    jobs_for(make, database, clock).advance_tapers()
    items = {"anxiety": 4, "sleep": 3, "tremor": 3, "seizure": 1}
    r = make.client.post(
        f"/v1/taper-plans/{plan['id']}/symptom-reports",
        json={"items": items, "note": "shaky all day"},
        headers=pat.headers,
    )
    assert r.status_code == 201, r.get_json()
    console.sign_in(doc)
    html = console.get(f"{base(pat)}/{plan['id']}").get_data(as_text=True)
    reports = html[html.index('id="reports-heading"') :]
    assert "total 10 of" in reports
    assert "Red flag" in reports
    assert "Hold proposed" in reports
    assert "shaky all day" in reports
    assert "Reported by the patient" in reports
    assert "consider pausing" in html
