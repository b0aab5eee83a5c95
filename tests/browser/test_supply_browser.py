"""Supply in a real browser, on the demo's Alex Kim: the diazepam prescription's Supply
panel on the chart takes a dispense through its form and then shows the forecast;
the diazepam plan's page shows the dispensing table, swaps in another period with
htmx, and offers its CSV. Each page is audited with axe-core and screenshotted."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.browser.support import CLINICIAN, Audit, Shots, require_browser

require_browser()

from playwright.sync_api import Locator, Page, expect  # noqa: E402

from tests.browser.test_console_walk import open_chart, sign_in, visit  # noqa: E402

PATIENT = "Alex Kim"


def diazepam_supply(page: Page) -> Locator:
    """The Supply panel of the chart's current diazepam prescription."""
    article = page.locator("article.rx").filter(
        has=page.get_by_role("heading", level=3, name=re.compile(r"diazepam", re.I))
    )
    return article.first.locator("div.supply")


def tablets(cell: str) -> Decimal:
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?) tablets?\s*", cell)
    assert found, cell
    return Decimal(found.group(1))


def test_the_supply_panel_and_the_dispensing_table(page: Page, audit: Audit, shots: Shots) -> None:
    sign_in(page, *CLINICIAN)
    open_chart(page, PATIENT)
    panel = diazepam_supply(page)
    expect(panel.get_by_role("heading", name="Supply")).to_be_visible()
    # The demo dispensed a month's 5 mg tablets when the regimen began.
    on_hand = panel.locator('tr[data-formulation="tablet 5 mg"] td').first
    before = tablets(on_hand.inner_text())

    # Record a dispense through the panel's form; the chart comes back at the panel.
    panel.locator("details.supply-record > summary").click()
    form = panel.locator("form.supply-form").first
    form.get_by_label("Formulation").select_option("tablet 5 mg")
    form.get_by_label("Quantity dispensed").fill("1.3")
    visit(page, audit, shots, "supply-form")
    form.get_by_role("button", name="Record dispense").click()
    # Refused beside the field: tablets come whole, in halves or in quarters.
    panel = diazepam_supply(page)
    expect(panel.locator("p.error")).to_contain_text("quarter tablets")
    expect(page.get_by_role("alert")).to_contain_text("Check the supply form.")
    visit(page, audit, shots, "supply-form-refused")
    form = panel.locator("form.supply-form").first
    form.get_by_label("Quantity dispensed").fill("30")
    form.get_by_role("button", name="Record dispense").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Dispense recorded: 30 tablets of tablet 5 mg"
    )
    panel = diazepam_supply(page)
    table = panel.get_by_role("table")
    expect(table).to_be_visible()
    row = table.locator('tr[data-formulation="tablet 5 mg"]')
    expect(row.get_by_role("rowheader")).to_have_text("tablet 5 mg")
    expect(row.locator("td").first).to_have_text(f"{before + 30} tablets")
    # A count of 6 left, at two a day, is under the ten days of a withdrawal-risk
    # drug: the row is marked and says a refill is due.
    panel.locator("details.supply-record > summary").click()
    count = panel.locator("form.supply-form").nth(1)
    count.get_by_label("Formulation").select_option("tablet 5 mg")
    count.get_by_label("Quantity left").fill("6")
    count.get_by_role("button", name="Record count").click()
    expect(page.get_by_role("status")).to_contain_text("Count recorded: 6 tablets")
    row = diazepam_supply(page).locator('tr[data-formulation="tablet 5 mg"]')
    expect(row).to_have_class("refill-due")
    expect(row).to_contain_text("Refill due")
    diazepam_supply(page).scroll_into_view_if_needed()
    visit(page, audit, shots, "chart-supply")

    # The plan's page: the dispensing table, four weeks a period unless chosen.
    page.get_by_role("link", name="Open the diazepam plan").first.click()
    expect(page.get_by_role("heading", level=2, name="Dispensing")).to_be_visible()
    dispensing = page.locator("#dispensing")
    expect(dispensing.get_by_role("table")).to_be_visible()
    expect(dispensing.locator("caption")).to_contain_text("each 28-day period")
    assert dispensing.locator("tbody.period").count() >= 1
    expect(dispensing.locator("tbody.totals tr").first).to_be_visible()
    dispensing.scroll_into_view_if_needed()
    visit(page, audit, shots, "plan-dispensing")

    # Another period is swapped in by htmx, the page itself not reloaded.
    page.get_by_label("Period", exact=True).select_option("14")
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page.locator("#dispensing caption")).to_contain_text("each 14-day period")
    assert "period_days" not in page.url
    csv = page.get_by_role("link", name="Download CSV for the pharmacy")
    expect(csv).to_have_attribute("href", re.compile(r"/dispensing\.csv\?period_days=14$"))
    with page.expect_download() as download:
        csv.click()
    assert download.value.suggested_filename.startswith("dispensing-")
    assert download.value.suggested_filename.endswith(".csv")
    page.locator("#dispensing").scroll_into_view_if_needed()
    visit(page, audit, shots, "plan-dispensing-14-days")

    # Approved, the plan leads the forecast: the panel follows its coming steps.
    approve = page.locator("section[aria-labelledby=approve-heading]")
    for box in approve.get_by_role("checkbox").all():
        box.check()
    approve.get_by_role("button", name="Approve plan").click()
    expect(page.get_by_role("status")).to_contain_text("Plan approved")
    page.get_by_role("link", name=f"Back to {PATIENT}'s chart").click()
    panel = diazepam_supply(page)
    expect(panel).to_contain_text("follows the coming steps of the approved taper plan")
    expect(panel.locator("ul.use-changes").first).to_contain_text("a day")
    panel.scroll_into_view_if_needed()
    visit(page, audit, shots, "chart-supply-taper")
    audit.assert_clean()
