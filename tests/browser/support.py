"""What the browser tests share: whether they can run here, the live server they drive,
the accessibility audit (axe-core) and the screenshots.

They need Debian's Chromium (/usr/bin/chromium), the `playwright` package (the dev
extras; its own browser download is never used) and axe-core's `axe.min.js` (the npm
package, fetched by `.ci/run` into .ci/cache). MEDTRACK_BROWSER_TESTS says what to do
when one is missing: `auto` (the default) skips the package with the reason, `required`
(set by `.ci/run`) fails instead, and `off` skips it even when everything is there.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MEDTRACK_CHROMIUM", "/usr/bin/chromium"))
# Where `.ci/run` unpacks the npm package axe-core.
DEFAULT_AXE = ROOT / ".ci" / "cache" / "axe-core" / "axe.min.js"
# As on a machine with no network beyond localhost: no background connections, no
# component updates, a fresh profile; --no-sandbox because CI runs as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLINICIAN = ("dr.rivera@demo.medtrack.test", "demo-clinician-password")
ADMIN = ("admin@demo.medtrack.test", "demo-admin-password")
# Console errors that are not faults: a failed load (reported with its address by the
# response watch), and a live request that htmx abandons for a newer one (hx-sync
# "replace", or a form submitted while a check is in flight), which htmx logs as an
# error event. A failed live request still shows as htmx:responseError or
# htmx:sendError, and its status as a 4xx or 5xx response.
BENIGN = ("Failed to load resource", "htmx:sendAbort", "htmx:afterRequest")
# The axe-core impacts that fail a page.
BLOCKING_IMPACTS = ("serious", "critical")


def axe_path() -> Path:
    return Path(os.environ.get("MEDTRACK_AXE_JS") or DEFAULT_AXE)


def missing() -> list[str]:
    """What the browser tests need and this machine lacks."""
    out = []
    if not CHROMIUM.exists():
        out.append(f"{CHROMIUM} (apt-get install chromium chromium-driver)")
    if importlib.util.find_spec("playwright") is None:
        out.append("the playwright package (pip install -e '.[dev]')")
    if not axe_path().is_file():
        out.append(
            f"axe-core at {axe_path()} (set MEDTRACK_AXE_JS to axe.min.js from "
            "`npm pack axe-core`, or run .ci/run once)"
        )
    return out


def require_browser() -> None:
    """Skip the calling test module (at collection) unless the browser tests can and
    should run here; with MEDTRACK_BROWSER_TESTS=required, fail instead of skipping."""
    mode = os.environ.get("MEDTRACK_BROWSER_TESTS", "auto")
    if mode == "off":
        pytest.skip("MEDTRACK_BROWSER_TESTS=off", allow_module_level=True)
    lacking = missing()
    if not lacking:
        return
    reason = "browser tests need " + "; ".join(lacking)
    if mode == "required":
        pytest.fail(f"MEDTRACK_BROWSER_TESTS=required, but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


# --- the live server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """`medtrack serve` (gunicorn) on a free port over a fresh SQLite file: migrated,
    the demo accounts seeded and their doses planned, as `make run` leaves it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = directory / "server.log"
        self.env = {
            **os.environ,
            # development: the session cookie is not Secure, so it travels over http.
            "MEDTRACK_ENV": "development",
            "MEDTRACK_DATABASE_URL": f"sqlite:///{directory / 'console.sqlite'}",
            "MEDTRACK_SECRET_KEY": secrets.token_urlsafe(32),
            "MEDTRACK_NOTIFIER": "log",
            "MEDTRACK_LOG_LEVEL": "WARNING",
        }
        for name in ("MEDTRACK_MIGRATION_DATABASE_URL", "MEDTRACK_DATABASE_RUNTIME_ROLE"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None

    def medtrack(self, *args: str) -> None:
        command = [sys.executable, "-m", "service.cli", *args]
        done = subprocess.run(  # noqa: S603
            command, env=self.env, cwd=ROOT, capture_output=True, check=False
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise RuntimeError(f"medtrack {' '.join(args)} failed:\n{output}")

    def start(self, seconds: float = 60) -> None:
        self.medtrack("db", "upgrade")
        self.medtrack("demo")
        self.medtrack("scheduler", "--once")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "service.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"medtrack serve exited:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.base}/readyz did not answer 200 within {seconds:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def tracebacks(self) -> str:
        """The server log's tail when it holds a traceback, else ''."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-6000:] if "Traceback" in text else ""


# --- what every page is checked for ----------------------------------------------------------


@dataclass
class Audit:
    """Problems found on the pages a test visits, reported together at its end so one
    run shows all of them: axe-core violations of serious or critical impact, server
    errors (5xx), and what Chromium reports in the console (a script or style the
    Content Security Policy refused, a failed request, an uncaught script error)."""

    axe_source: str
    violations: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error" and not message.text.startswith(BENIGN):
                self.errors.append(f"console error on {page.url}: {message.text}")

        def on_response(response: Any) -> None:
            request = response.request
            # A page, or a live fragment htmx asks for, may answer 4xx (a form shown
            # again with its errors, in place); what a page loads must not, save the
            # icon Chromium asks for on its own.
            broken = response.status >= 500 or (
                response.status >= 400
                and not request.is_navigation_request()
                and "hx-request" not in request.headers
                and not response.url.endswith("/favicon.ico")
            )
            if broken:
                self.errors.append(f"{response.status} from {request.method} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"script error on {page.url}: {exc}"))
        page.on("response", on_response)

    def check(self, page: Page, name: str) -> list[dict[str, Any]]:
        """Run axe-core on the page as it is now; record its serious and critical
        violations under `name`, and return them.

        axe-core is evaluated through the DevTools protocol (page.evaluate), which the
        page's Content Security Policy (`script-src 'self'`) does not govern, so the
        console is audited with its real CSP in force: `bypass_csp` would also hide a
        page's own inline script, and `add_script_tag` is refused by the CSP."""
        self.pages.append(name)
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.axe_source)
        result = page.evaluate(
            """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(
                v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                       nodes: v.nodes.map(n => ({target: n.target.join(' '),
                                                 html: n.html.slice(0, 200)}))})))"""
        )
        blocking = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
        for v in blocking:
            nodes = "; ".join(f"{n['target']} {n['html']}" for n in v["nodes"][:8])
            self.violations.append(
                f"[{name}] {v['impact']} {v['id']}: {v['help']} ({v['helpUrl']})\n    {nodes}"
            )
        return blocking

    def assert_clean(self) -> None:
        problems = self.violations + self.errors
        assert not problems, (
            f"{len(self.violations)} axe-core violation(s) of serious or critical impact and "
            f"{len(self.errors)} browser or server error(s) on {len(self.pages)} page(s):\n"
            + "\n".join(problems)
        )


class Shots:
    """Screenshots of the pages a test visits: the full page, and the top of it in the
    1280x800 viewport (the README's pictures come from those), numbered in the order
    taken."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        (directory / "viewport").mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str) -> Path:
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        path = self.directory / f"{stem}.png"
        page.screenshot(path=path, full_page=True)
        # The top of the page, wherever the last action scrolled to.
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=self.directory / "viewport" / f"{stem}.png")
        return path
