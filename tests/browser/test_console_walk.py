"""The console in a real browser: one clinician's session, in order, against a live
`medtrack serve` with the demo data.

Sign in as the demo clinician; the worklist shows the demo's items; register a patient
(the activation code and its QR code), which the patient activates through the API as
the app would; prescribe Lexapro, then Valium with the moderate finding shown by the
live check before submitting; try tramadol, which the server refuses until both major
findings are acknowledged; plan a diazepam taper (the live preview draws the chart and
the steps, and redraws them with a flagged step when a setting changes), save the
draft, approve it with the flagged step confirmed, pause it; mark a worklist item
done; sign out. Every page is audited with axe-core and screenshotted (support.Audit,
support.Shots).
"""

from __future__ import annotations

import re

from tests.browser.support import ADMIN, CLINICIAN, Audit, LiveServer, Shots, require_browser

require_browser()

from playwright.sync_api import Locator, Page, expect  # noqa: E402

NEW_PATIENT = ("Riley Chen", "riley.chen@example.test", "1979-06-02", "Europe/London")
CHART_SECTIONS = (
    "Regimen",
    "Findings",
    "This week",
    "Adherence, last 90 days",
    "Taper plans",
    "Audit trail",
)
# The flashed messages base.html shows at the top of the page.
FLASH = "main > p[role=status]"
# What the taper preview says when steps are flagged.
FLAGGED = re.compile(r"\d+ flagged steps?\.")


def visit(page: Page, audit: Audit, shots: Shots, name: str) -> None:
    """Screenshot the page as it is now and audit it."""
    shots.take(page, name)
    audit.check(page, name)


def set_field(page: Page, label: str, value: str) -> None:
    """Type into a labelled input, or choose in a labelled select."""
    field = page.get_by_label(label, exact=True)
    if field.evaluate("el => el.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/console/")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_chart(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    search = page.get_by_label("Search patients")
    search.fill(name.split()[0])
    search.press("Enter")
    page.get_by_role("link", name=name, exact=True).first.click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def row_of(link: Locator) -> Locator:
    """The table row, list item or article a link sits in."""
    return link.locator("xpath=ancestor::*[self::tr or self::li or self::article][1]")


def prescribe(page: Page, drug: str, amount: str, times: str) -> None:
    """Open the prescribe form from the chart and fill it in (not submitted)."""
    page.get_by_role("link", name="Prescribe", exact=True).click()
    set_field(page, "Drug", drug)
    set_field(page, "Dose", amount)
    set_field(page, "Unit", "mg")
    set_field(page, "Route", "oral")
    set_field(page, "Times of day", times)
    # Leaving the field is a change the live check answers.
    page.get_by_label("Times of day", exact=True).blur()
    # The start date is filled in: today where the patient lives.
    expect(page.get_by_label("Start date", exact=True)).not_to_have_value("")


def findings(page: Page, severity: str) -> Locator:
    check = page.locator("#check")
    return check.locator("li.finding").filter(
        has=page.locator(".badge", has_text=re.compile(severity, re.IGNORECASE))
    )


def submit_prescription(page: Page) -> None:
    page.get_by_role("button", name="Prescribe", exact=True).click()


def test_a_clinicians_day_in_the_console(
    page: Page, live: LiveServer, audit: Audit, shots: Shots
) -> None:
    # Sign in; the worklist is the home page and holds the demo's items.
    page.goto("/console/")
    visit(page, audit, shots, "sign-in")
    sign_in(page, *CLINICIAN)
    expect(page.get_by_role("heading", level=1, name="Worklist")).to_be_visible()
    if not page.locator("li.item").count():
        # Reported at the end with the rest, so the walk goes on to what follows.
        audit.errors.append("the worklist shows no item after `medtrack demo` (li.item)")
    visit(page, audit, shots, "worklist")

    # The patients list: search, and a link per patient to the chart.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    search = page.get_by_label("Search patients")
    search.fill("Alex")
    search.press("Enter")
    expect(page.get_by_role("link", name="Alex Kim", exact=True)).to_be_visible()
    visit(page, audit, shots, "patients")

    # Register a patient: the activation code is shown once, with its QR code.
    page.get_by_role("link", name="Register a patient").click()
    name, email, born, zone = NEW_PATIENT
    set_field(page, "Name", name)
    set_field(page, "E-mail", email)
    set_field(page, "Date of birth", born)
    set_field(page, "Time zone", zone)
    visit(page, audit, shots, "register")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.get_by_role("heading", name="Activation code")).to_be_visible()
    expect(page.locator("code.secret")).to_have_text(re.compile(r"\S{6,}"))
    expect(page.locator("figure.qr svg")).to_be_visible()
    expect(page.locator("figure.qr figcaption")).not_to_be_empty()
    visit(page, audit, shots, "activation-code")

    # The patient activates the account in the app (what scanning the QR code leads
    # to), and so joins the clinician's patients.
    code = page.locator("code.secret").inner_text().strip()
    activated = page.request.post(
        "/v1/auth/activate",
        data={"activation_code": code, "password": "a patient's own passphrase"},
    )
    assert activated.ok, f"activation: {activated.status} {activated.text()}"

    # The new patient's chart, with every section.
    open_chart(page, name)
    for section in CHART_SECTIONS:
        expect(page.get_by_role("heading", level=2, name=section, exact=True)).to_be_visible()
    visit(page, audit, shots, "chart-new-patient")

    # Lexapro: nothing to report.
    prescribe(page, "Lexapro", "10", "08:00")
    visit(page, audit, shots, "prescribe-lexapro")
    submit_prescription(page)
    expect(page.locator(FLASH)).to_contain_text("Prescribed")
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()

    # Valium: the live check shows the moderate finding before anything is submitted.
    prescribe(page, "Valium", "5", "08:00, 20:00")
    expect(findings(page, "moderate")).to_have_count(1)
    visit(page, audit, shots, "prescribe-valium-check")
    submit_prescription(page)
    expect(page.locator(FLASH)).to_contain_text("Prescribed")

    # Tramadol: two major findings; refused until both are acknowledged.
    prescribe(page, "tramadol", "50", "08:00")
    expect(findings(page, "major")).to_have_count(2)
    submit_prescription(page)
    expect(page.locator(FLASH)).to_have_count(0)
    expect(findings(page, "major")).to_have_count(2)
    acknowledge = page.get_by_label(re.compile(r"^Acknowledge: "))
    expect(acknowledge).to_have_count(2)
    visit(page, audit, shots, "prescribe-tramadol-refused")
    for box in acknowledge.all():
        box.check()
    # Each tick re-runs the live check, which must keep the ticks it redraws.
    for i in range(2):
        expect(acknowledge.nth(i)).to_be_checked()
    submit_prescription(page)
    expect(page.locator(FLASH)).to_contain_text("Prescribed")
    visit(page, audit, shots, "chart-three-prescriptions")

    # Plan a diazepam taper; the live preview draws the chart and the steps.
    plan_links = page.get_by_role("link", name="Plan a taper")
    diazepam = [link for link in plan_links.all() if "diazepam" in row_of(link).inner_text()]
    assert diazepam, "no 'Plan a taper' link beside the diazepam prescription"
    diazepam[0].click()
    preview = page.locator("#preview")
    expect(preview.locator("svg").first).to_be_visible()
    expect(preview.locator("table caption", has_text="Steps")).to_be_visible()
    expect(preview).not_to_contain_text(FLAGGED)
    # A floor of 3 mg, above diazepam's sourced 1 mg, makes the final step (3 mg to 0)
    # a cut over the cap that needs approval: the preview redraws with it flagged.
    floor = page.get_by_label("Floor for the final step (mg)", exact=True)
    floor.fill("3")
    floor.blur()
    expect(preview).to_contain_text(FLAGGED)
    expect(preview.locator("svg").first).to_be_visible()
    visit(page, audit, shots, "taper-planner")
    page.get_by_role("button", name="Save draft").click()
    expect(page).to_have_url(re.compile(r"/console/patients/[0-9a-f-]{36}/tapers/[0-9a-f-]{36}$"))
    visit(page, audit, shots, "taper-draft")

    # Approve with every flagged step confirmed; the plan runs and shows its chart.
    confirm = page.get_by_label(re.compile(r"^Confirm"))
    expect(confirm.first).to_be_visible()
    for box in confirm.all():
        box.check()
    page.get_by_role("button", name="Approve plan").click()
    expect(page.get_by_role("button", name="Pause")).to_be_visible()
    expect(page.locator("main svg").first).to_be_visible()
    visit(page, audit, shots, "taper-running")

    # Pause it, with a reason.
    pause = page.locator("form").filter(has=page.get_by_role("button", name="Pause"))
    reason = pause.get_by_label("Reason")
    if reason.count():
        reason.fill("Travelling for two weeks; resume on return.")
    pause.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    visit(page, audit, shots, "taper-paused")

    # Back to the worklist: mark an item done.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    items = page.locator("li.item")
    expect(items.first).to_be_visible()
    before = items.count()
    visit(page, audit, shots, "worklist-after")
    items.first.get_by_role("button", name="Mark done").click()
    expect(page.locator("li.item")).to_have_count(before - 1)

    # Sign out: the console is closed again.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))

    audit.assert_clean()
    assert not live.tracebacks(), live.tracebacks()


def test_the_pages_the_walk_does_not_reach(
    page: Page, live: LiveServer, audit: Audit, shots: Shots
) -> None:
    """A chart with a history (the demo patient), its record form, and the admin pages,
    audited like the rest."""
    sign_in(page, *CLINICIAN)
    open_chart(page, "Alex Kim")
    visit(page, audit, shots, "chart-demo-patient")
    page.get_by_role("link", name="Edit record").click()
    expect(page).to_have_url(re.compile(r"/edit$"))
    visit(page, audit, shots, "edit-record")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, *ADMIN)
    admin_nav = page.get_by_role("navigation", name="Main")
    admin_nav.get_by_role("link", name="Staff and care teams").click()
    expect(page).to_have_url(re.compile(r"/console/admin/staff"))
    visit(page, audit, shots, "admin-staff")
    page.goto("/console/admin/care-teams")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    visit(page, audit, shots, "admin-care-teams")

    audit.assert_clean()
    assert not live.tracebacks(), live.tracebacks()
