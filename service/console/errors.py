"""Refusals and failures as pages: the same statuses as the JSON API, in words a
clinician reads, and the same audit entries for a refused request."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from service.console.session import console_ctx
from service.usecases.errors import RateLimited, Unauthenticated, Unavailable, UseCaseError
from service.web.refusals import audit_refusal, status_of

log = logging.getLogger("medtrack.console")
RETRY_AFTER_SECONDS = "5"


def page(status: int, message: str, errors: dict[str, list[str]] | None = None) -> tuple[str, int]:
    """An error page (or, for an htmx request, the fragment that replaces the live part)."""
    template = "fragments/error.html" if request.headers.get("HX-Request") else "error.html"
    return render_template(template, status=status, message=message, errors=errors or {}), status


def use_case_error(error: UseCaseError) -> ResponseReturnValue:
    status = status_of(error)
    if isinstance(error, Unauthenticated):
        if request.headers.get("HX-Request"):
            # htmx follows this header with a full page load of the sign-in page.
            return "", 401, {"HX-Redirect": url_for("console.login")}
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if status in (403, 404):
        try:
            audit_refusal(status, error, console_ctx())
        except Unavailable as exc:
            return use_case_error(exc)
        except Exception:
            log.exception("could not record a refused request in the audit trail")
            return page(500, "The request could not be recorded; it has been logged.")
    body, code = page(status, error.message, error.errors)
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unavailable):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    return body, code, headers


def csrf_error(error: CSRFError) -> ResponseReturnValue:
    return page(
        400,
        f"The form had expired or came from elsewhere ({error.description}). "
        "Reload the page and try again.",
    )


def http_error(error: HTTPException) -> ResponseReturnValue:
    """What a page's request itself was refused for (a form over the size limit, say),
    as a page rather than the JSON API's error body."""
    status = error.code or 500
    return page(status, error.description or "The request could not be handled.")


def register(bp: Blueprint) -> None:
    bp.register_error_handler(UseCaseError, use_case_error)
    bp.register_error_handler(CSRFError, csrf_error)
    bp.register_error_handler(HTTPException, http_error)
