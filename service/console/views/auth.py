"""Signing in to the console and out of it."""

from __future__ import annotations

import re

from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError

from service.console.blueprint import bp
from service.console.forms import field_errors
from service.console.session import current_principal, sign_in, sign_out
from service.usecases.errors import Forbidden, RateLimited, Unauthenticated
from service.web.context import runtime
from service.web.schemas.auth import TokenRequestSchema

# A path of the console with an optional query, in the characters a URL spells
# unescaped (RFC 3986): no scheme or host, no backslash, no space or control character
# (which a Location header cannot carry).
_CONSOLE_PATH = re.compile(r"/console/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")


def _next_page() -> str:
    """Where to go after signing in: a console path of this site, never elsewhere."""
    target = request.values.get("next", "")
    # No ".." segment either: the browser would resolve it out of the console.
    path = target.partition("?")[0]
    if _CONSOLE_PATH.fullmatch(target) and "/../" not in f"{path}/":
        return target
    return url_for("console.worklist")


def _login_page(
    status: int, headers: dict[str, str] | None = None, **context: object
) -> ResponseReturnValue:
    demo = runtime().settings.env == "development"
    page = render_template("login.html", demo=demo, next=_next_page(), **context)
    return page, status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        try:
            current_principal()
        except (Unauthenticated, Forbidden):
            return _login_page(200)
        return redirect(_next_page())
    form = {"email": request.form.get("email", ""), "password": request.form.get("password", "")}
    try:
        body = TokenRequestSchema().load(form)
    except ValidationError as exc:
        return _login_page(422, email=form["email"], errors=field_errors(exc))
    try:
        g.principal = sign_in(body["email"], body["password"])
    except RateLimited as exc:
        message = f"Too many failed sign-ins; try again in {exc.retry_after} seconds."
        retry = {"Retry-After": str(exc.retry_after)}
        return _login_page(429, retry, email=form["email"], message=message)
    except Unauthenticated as exc:
        return _login_page(401, email=form["email"], message=exc.message)
    except Forbidden as exc:
        return _login_page(403, email=form["email"], message=exc.message)
    return redirect(_next_page())


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    sign_out()
    return redirect(url_for("console.login"))
