"""Refusals and failures as pages: the same statuses as the JSON API, in words a
clinician reads, and the same audit entries for a refused request."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from service.console.session import console_ctx
from service.usecases.errors import Unauthenticated, UseCaseError
from service.web import refusals


def page(status: int, message: str, errors: dict[str, list[str]] | None = None) -> tuple[str, int]:
    """An error page (or, for an htmx request, the fragment that replaces the live part)."""
    template = "fragments/error.html" if request.headers.get("HX-Request") else "error.html"
    return render_template(template, status=status, message=message, errors=errors or {}), status


def use_case_error(error: UseCaseError) -> ResponseReturnValue:
    if isinstance(error, Unauthenticated):
        if request.headers.get("HX-Request"):
            # htmx follows this header with a full page load of the sign-in page.
            return "", 401, {"HX-Redirect": url_for("console.login")}
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    answered = refusals.answer(error, console_ctx())
    body, code = page(answered.status, answered.message, dict(answered.errors))
    return body, code, answered.headers


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
