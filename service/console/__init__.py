"""The clinicians' web console at /console: server-rendered Jinja2 pages, htmx for the
live parts (vendored and served from here, no inline script, so a strict Content
Security Policy holds), a session cookie and a CSRF token on every form.

The views call the same use cases as the JSON API, with the same schemas checking
what a form sends (service.web.schemas); the console holds no rule of its own.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

from service.config import Settings
from service.console import errors, filters
from service.console import views as views
from service.console.blueprint import bp

# Pages and fragments load only this origin's scripts, styles and images; forms post
# only here; nothing frames the console.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATIC_MAX_AGE = dt.timedelta(hours=1)
csrf = CSRFProtect()


def _headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    if request.endpoint == "console.static":
        # The vendored assets and the stylesheet hold no health data.
        response.headers["Cache-Control"] = (
            f"private, max-age={int(STATIC_MAX_AGE.total_seconds())}"
        )
    return response


def _protect() -> None:
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


bp.before_request(_protect)
bp.after_request(_headers)
errors.register(bp)


def install(app: Flask, settings: Settings) -> None:
    """Mount the console on the app: its blueprint, cookie settings and CSRF."""
    production = settings.env == "production"
    app.config.update(
        SESSION_COOKIE_NAME="medtrack_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=production,
        SESSION_COOKIE_PATH="/console",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        # Checked by the console's own hook, so that the JSON API (bearer tokens,
        # no cookies) is never asked for a CSRF token.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
    )
    csrf.init_app(app)
    filters.register(app)
    app.register_blueprint(bp)
