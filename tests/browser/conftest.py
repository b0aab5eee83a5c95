"""Browser fixtures: one live server and one headless Chromium for the package's tests,
a fresh browser context (no cookies) per test, the page audit and the screenshots.

Playwright is imported inside the fixtures: on a machine without it the test modules
skip at collection (support.require_browser) before any fixture runs. Its sync API runs
an asyncio event loop while it is open, and `asyncio.run` refuses to start under one:
Chromium and Playwright are therefore closed (package scope) before the rest of the
suite runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, Audit, LiveServer, Shots, axe_path

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

VIEWPORT = {"width": 1280, "height": 800}
# Generous, for a shared 2-core CI machine; a healthy page answers in milliseconds.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("live"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    """MEDTRACK_SCREENSHOTS, else a directory in pytest's tmp path."""
    configured = os.environ.get("MEDTRACK_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    return Shots(directory)


@pytest.fixture(scope="session")
def axe_source() -> str:
    return axe_path().read_text(encoding="utf-8")


@pytest.fixture
def audit(axe_source: str) -> Audit:
    return Audit(axe_source)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test, so `page` can tell that the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, live: LiveServer, audit: Audit, shots: Shots
) -> Iterator[Page]:
    """A page in a fresh context at a 1280x800 viewport, watched by `audit`; when the
    test fails, a screenshot of where it stopped (FAILED-<test>.png) and the server
    log's traceback, if any, are kept."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(viewport=VIEWPORT, base_url=live.base, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    audit.watch(page)
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            failed = shots.directory / f"FAILED-{request.node.name}.png"
            page.screenshot(path=failed, full_page=True)
            log = live.tracebacks()
            if log:
                print(f"server log:\n{log}")
        context.close()
