"""The sign-in form with the keyboard alone: Tab from the top of the page reaches the
e-mail field, Tab moves on to the password, Enter signs in; focus is always visible."""

from __future__ import annotations

from tests.browser.support import CLINICIAN, Audit, Shots, require_browser

require_browser()

from playwright.sync_api import Locator, Page, expect  # noqa: E402

# The skip link and the brand come before the form; a few more presses are allowed.
MOST_TABS = 8


def focused(locator: Locator) -> bool:
    return bool(locator.evaluate("el => el === document.activeElement"))


def visible_focus(locator: Locator) -> bool:
    """The focused element draws an outline (console.css gives :focus-visible one)."""
    return bool(
        locator.evaluate(
            """el => { const s = getComputedStyle(el);
                       return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }"""
        )
    )


def test_the_sign_in_form_can_be_completed_with_tab_and_enter(
    page: Page, audit: Audit, shots: Shots
) -> None:
    page.goto("/console/login")
    email, password = page.get_by_label("E-mail"), page.get_by_label("Password")
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        if focused(email):
            break
    assert focused(email), f"{MOST_TABS} presses of Tab did not reach the E-mail field"
    assert visible_focus(email), "the focused E-mail field shows no focus outline"
    page.keyboard.type(CLINICIAN[0])
    page.keyboard.press("Tab")
    assert focused(password), "Tab from E-mail does not move to Password"
    assert visible_focus(password), "the focused Password field shows no focus outline"
    page.keyboard.type(CLINICIAN[1])
    shots.take(page, "sign-in-keyboard")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Worklist")).to_be_visible()
    # The skip link is the first stop and leads to the page's content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert focused(skip), "the first Tab on a page does not land on 'Skip to content'"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    audit.assert_clean()
