"""The patient chart: the patient, the regimen and its versions, findings, taper
plans and the audit trail, all read through the API's use cases and refused outside
the care team. The week's doses and adherence are in test_chart_doses.py."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from service.config import Settings
from service.db.uow import Database
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.console.conftest import Console

ACTIONS = {"C": "create", "U": "update", "D": "delete", "E": "execute"}
SECTIONS = [
    "Regimen",
    "Findings",
    "This week",
    "Adherence, last 90 days",
    "Taper plans",
    "Audit trail",
]
LINKS = {
    "console.prescribe": ("prescribe", "Prescribe"),
    "console.edit_patient": ("edit", "Edit record"),
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the days these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def start(
    console: Console, make: Builders, clock: FrozenClock, now: str = "2026-06-10T11:00:00Z"
) -> tuple[Account, Account]:
    """A clinician signed in to the console and a New York patient of theirs."""
    clock.now = at(now)
    doc = make.clinician()
    pat = make.patient(doc, timezone="America/New_York")
    assert console.sign_in(doc).status_code == 302
    return doc, pat


def chart(console: Console, pat: Account, **query: Any) -> str:
    r = console.get(f"/console/patients/{pat.patient_id}", query_string=query)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data(as_text=True)


def section(page: str, heading: str) -> str:
    """The part of the page under an h2, up to the end of its section."""
    found = re.search(rf"<h2 id=\"h-[a-z]+\">{re.escape(heading)}</h2>(.*?)</section>", page, re.S)
    assert found, heading
    return found.group(1)


def words(fragment: str) -> str:
    """The fragment's text, tags dropped and spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def table(fragment: str) -> list[list[str]]:
    """The body rows of the fragment's table, each cell as its words."""
    body = re.search(r"<tbody>(.*?)</tbody>", fragment, re.S)
    assert body
    return [
        [words(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def api(make: Builders, who: Account, method: str, path: str, **kwargs: Any) -> Any:
    r = make.client.open(path, method=method, headers=who.headers, **kwargs)
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()


def test_the_chart_shows_the_patient_and_its_sections_in_order(
    console: Console, make: Builders, clock: FrozenClock, app: Flask
) -> None:
    _, pat = start(console, make, clock)
    page = chart(console, pat)
    name = api(make, pat, "GET", f"/v1/patients/{pat.patient_id}")["name"]
    assert f"<h1>{name}</h1>" in page
    assert page.count("<h1>") == 1
    assert re.findall(r"<h2 id=\"h-[a-z]+\">([^<]+)</h2>", page) == SECTIONS
    assert "Age 51 (born 1975-04-12)" in page
    assert "Time zone America/New_York" in page
    # The strict Content Security Policy: no inline style or script anywhere.
    assert "style=" not in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/console/static/vendor/htmx.min.js" defer>'
    ]
    for endpoint, (path, label) in LINKS.items():
        if endpoint in app.view_functions:
            assert f'href="/console/patients/{pat.patient_id}/{path}">{label}</a>' in page


def test_the_regimen_shows_each_version_after_a_revision_through_the_api(
    console: Console, make: Builders, clock: FrozenClock, app: Flask
) -> None:
    doc, pat = start(console, make, clock)
    rx = make.prescription(doc, pat, start_date="2026-06-10")
    api(
        make,
        doc,
        "PATCH",
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}",
        json={"dose": {"amount": 15, "unit": "mg"}, "reason": "partial response"},
    )
    regimen = section(chart(console, pat), "Regimen")
    text_ = words(regimen)
    assert "escitalopram 15 mg active" in text_
    assert "Schedule 08:00, daily" in text_
    assert "Versions (2)" in text_
    assert "dose: 10 mg → 15 mg" in text_
    assert "Reason: partial response" in text_
    assert "first version: 10 mg oral, 08:00, daily" in text_
    if "console.new_taper" in app.view_functions:
        href = f"/console/patients/{pat.patient_id}/tapers/new?prescription={rx['id']}"
        assert f'href="{href}">Plan a taper</a>' in regimen


def test_findings_after_prescribing_escitalopram_then_diazepam(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat = start(console, make, clock)
    make.prescription(doc, pat, drug="Lexapro", start_date="2026-06-10")
    make.prescription(
        doc, pat, drug="Valium", dose={"amount": 5, "unit": "mg"}, start_date="2026-06-10"
    )
    page = chart(console, pat)
    findings = section(page, "Findings")
    expected = api(make, doc, "GET", f"/v1/patients/{pat.patient_id}/findings")
    assert [f["severity"] for f in expected] == re.findall(r'badge sev-(\w+)">\1<', findings)
    assert "moderate" in [f["severity"] for f in expected]
    assert "Interaction: escitalopram + diazepam" in words(findings) or (
        "Interaction: diazepam + escitalopram" in words(findings)
    )
    assert "What it requires:" in findings
    assert "Not acknowledged." in findings
    # The finding is also kept with the diazepam prescription, as the API shows it.
    regimen = words(section(page, "Regimen"))
    assert "Findings stored with this prescription moderate Interaction:" in regimen
    assert "(shown to the prescriber)" in regimen


def test_the_audit_trail_lists_the_writes_and_its_own_reading(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat = start(console, make, clock)
    rx = make.prescription(doc, pat, start_date="2026-06-10")
    api(
        make,
        doc,
        "POST",
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/pause",
        json={"reason": "holiday", "resume_on": "2026-06-20"},
    )
    trail = section(chart(console, pat), "Audit trail")
    with database.engine.connect() as conn:
        pid = pat.patient_id.hex if database.engine.dialect.name == "sqlite" else pat.patient_id
        writes = conn.execute(
            text(
                "SELECT action, subtype FROM audit_events WHERE patient_id = :p "
                "AND action <> 'R' ORDER BY id"
            ),
            {"p": pid},
        ).all()
        written = [(ACTIONS[a], subtype) for a, subtype in writes]
        reads = conn.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE patient_id = :p "
                "AND subtype = 'audit.read' AND actor_id = :a"
            ),
            {"p": pid, "a": doc.id.hex if database.engine.dialect.name == "sqlite" else doc.id},
        ).scalar_one()
    assert ("create", "prescription.create") in written
    assert ("update", "prescription.pause") in written
    listed = [(row[2], row[3]) for row in table(trail)]
    assert [w for w in listed if w[0] != "read"] == written[::-1]
    assert reads == 1
    assert "Page 1, newest first" in trail
    # Entries name who made them: the prescribing clinician, of the care team, by name.
    (member,) = api(make, doc, "GET", f"/v1/patients/{pat.patient_id}/care-team")
    who = {row[3]: row[1] for row in table(trail)}
    assert who["prescription.create"] == f"{member['name']} (clinician)"


def test_the_audit_trail_pages(console: Console, make: Builders, clock: FrozenClock) -> None:
    _, pat = start(console, make, clock)
    for _ in range(3):
        chart(console, pat)  # each reading adds a dozen read entries
    first = section(chart(console, pat), "Audit trail")
    assert "Older entries" in first
    assert "Newer entries" not in first
    second = section(chart(console, pat, audit_page=2), "Audit trail")
    assert "Page 2, newest first" in second
    assert "Newer entries" in second
    assert chart(console, pat, audit_page="x").count("Page 1, newest first") == 1
    r = console.client.get(
        f"/console/patients/{pat.patient_id}",
        query_string={"audit_page": 2},
        headers={"HX-Request": "true", "HX-Target": "audit"},
    )
    assert r.status_code == 200
    fragment = r.get_data(as_text=True)
    assert '<div id="audit">' in fragment
    assert "<h1" not in fragment
    assert "Page 2, newest first" in fragment


def test_a_clinician_of_another_team_gets_404_and_the_refusal_is_audited(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    clock.now = at("2026-06-10T11:00:00Z")
    doc = make.clinician()
    pat = make.patient(doc)
    other = make.clinician()
    assert console.sign_in(other).status_code == 302
    r = console.get(f"/console/patients/{pat.patient_id}")
    assert r.status_code == 404
    page = r.get_data(as_text=True)
    assert "Not found" in page
    assert pat.email not in page
    for target in ("week", "audit"):
        r = console.client.get(
            f"/console/patients/{pat.patient_id}",
            headers={"HX-Request": "true", "HX-Target": target},
        )
        assert r.status_code == 404
    with database.engine.connect() as conn:
        pid = pat.patient_id.hex if database.engine.dialect.name == "sqlite" else pat.patient_id
        entries = conn.execute(
            text(
                "SELECT subtype, outcome FROM audit_events WHERE patient_id = :p "
                "AND actor_id = :a ORDER BY id"
            ),
            {"p": pid, "a": other.id.hex if database.engine.dialect.name == "sqlite" else other.id},
        ).all()
    assert [tuple(e) for e in entries] == [("access.denied", "4")] * 3


def test_an_administrator_reads_no_chart(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    clock.now = at("2026-06-10T11:00:00Z")
    doc = make.clinician()
    pat = make.patient(doc)
    assert console.sign_in(make.admin()).status_code == 302
    r = console.get(f"/console/patients/{pat.patient_id}")
    assert r.status_code == 404
    assert "Regimen" not in r.get_data(as_text=True)


def test_an_unknown_patient_is_404_and_signed_out_readers_go_to_sign_in(
    signed_in: tuple[Console, Account], console: Console
) -> None:
    c, _ = signed_in
    assert c.get("/console/patients/00000000-0000-4000-8000-000000000000").status_code == 404
    fresh = Console(console.client.application.test_client())
    r = fresh.get("/console/patients/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 302
    assert "/console/login" in r.headers["Location"]


def test_taper_plans_are_listed_with_their_status_and_the_regimen_links_to_them(
    console: Console, make: Builders, clock: FrozenClock, app: Flask
) -> None:
    doc, pat = start(console, make, clock)
    rx = make.prescription(
        doc,
        pat,
        drug="diazepam",
        dose={"amount": 10, "unit": "mg"},
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    plan = api(
        make,
        doc,
        "POST",
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json={
            "start_dose_mg": 20,
            "algorithm": {"kind": "percent", "percent": 25},
            "max_cut_pct": 25,
            "floor_dose_mg": 2,
            "interval_days": 14,
            "start_date": "2026-06-15",
            "formulations": [{"kind": "tablet", "strength_mg": 5, "divisible_by": 2}],
        },
    )
    page = chart(console, pat)
    plans = section(page, "Taper plans")
    ((drug, status, step, _, opened),) = table(plans)
    assert (drug, status) == ("diazepam", "draft")
    assert step == f"1 of {len(plan['steps'])}"
    regimen = section(page, "Regimen")
    # A prescription with a plan in progress links to it rather than to a second plan.
    assert "Plan a taper" not in regimen
    assert "Taper plan in progress" in regimen
    if "console.taper_plan" in app.view_functions:
        href = f"/console/patients/{pat.patient_id}/tapers/{plan['id']}"
        assert f'<a href="{href}">Open the diazepam plan</a>' in plans
        assert f'<a href="{href}">Taper plan in progress</a>' in regimen
        assert opened == "Open the diazepam plan"
