"""FHIR answers: resources and Bundles as application/fhir+json, and every failure as
an OperationOutcome with the status the JSON API would give (service.web.refusals),
refusals of an authenticated caller audited as on /v1."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flask import Blueprint, Response, request
from werkzeug.exceptions import HTTPException

from service.domain.errors import DomainValidationError
from service.interop.fhir.blueprint import AGENT, PREFIX
from service.usecases.errors import UseCaseError
from service.web import refusals
from service.web.context import ctx

log = logging.getLogger("medtrack.fhir")

FHIR_JSON = "application/fhir+json"

# The OperationOutcome issue type of each status (FHIR R4 value set "IssueType").
_ISSUE_CODE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    410: "deleted",
    411: "invalid",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    503: "transient",
}


def resource(body: Mapping[str, Any], status: int = 200, **headers: str) -> Response:
    """One resource (or Bundle) as application/fhir+json."""
    response = Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype=FHIR_JSON,
    )
    response.headers["Content-Type"] = f"{FHIR_JSON}; charset=utf-8"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def base_url() -> str:
    """This server's FHIR base, as the client reached it (…/fhir/R4)."""
    return request.host_url.rstrip("/") + PREFIX


def searchset(
    resources: Sequence[Mapping[str, Any]],
    *,
    total: int | None = None,
    links: Iterable[tuple[str, str]] = (),
    included: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A searchset Bundle: the matches (search mode `match`), then anything included
    beside them (`include`), each with its full URL on this server."""
    base = base_url()

    def entry(r: Mapping[str, Any], mode: str) -> dict[str, Any]:
        return {
            "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
            "resource": dict(r),
            "search": {"mode": mode},
        }

    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources) if total is None else total,
        "link": [{"relation": "self", "url": request.url}]
        + [{"relation": rel, "url": url} for rel, url in links],
        "entry": [entry(r, "match") for r in resources] + [entry(r, "include") for r in included],
    }
    if not bundle["entry"]:
        del bundle["entry"]
    return bundle


def issue(
    code: str,
    diagnostics: str,
    *,
    severity: str = "error",
    expression: Sequence[str] = (),
    extension: Sequence[Mapping[str, Any]] = (),
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One OperationOutcome issue."""
    out: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if details:
        out["details"] = dict(details)
    if expression:
        out["expression"] = list(expression)
    if extension:
        out["extension"] = [dict(e) for e in extension]
    return out


def outcome(
    status: int,
    issues: Sequence[Mapping[str, Any]],
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"resourceType": "OperationOutcome", "issue": [dict(i) for i in issues]}
    response = resource(body, status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def failure(
    status: int,
    message: str,
    errors: Mapping[str, Sequence[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An OperationOutcome for a failure: one issue for the message, then one per
    field error with the field's path as its expression."""
    code = _ISSUE_CODE.get(status, "exception")
    issues = [issue(code, message)]
    for path, texts in (errors or {}).items():
        issues.extend(issue(code, text, expression=[path]) for text in texts)
    return outcome(status, issues, headers)


def handle_use_case_error(error: UseCaseError) -> Response:
    """The API's answer to a use-case error (service.web.refusals), as an
    OperationOutcome."""
    answered = refusals.answer(error, ctx(AGENT))
    return failure(answered.status, answered.message, answered.errors, answered.headers)


_DEFAULT_MESSAGES = {
    404: "No such resource.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "Send the body as application/fhir+json.",
}


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    message = (
        data.get("message")
        or _DEFAULT_MESSAGES.get(status)
        or error.description
        or "The request failed."
    )
    errors: dict[str, list[str]] = {}
    for location, fields in (data.get("messages") or {}).items():
        prefix = "" if location in ("json", "form") else f"{location}."
        if isinstance(fields, Mapping):
            for path, texts in fields.items():
                errors[f"{prefix}{path}"] = (
                    [str(t) for t in texts] if isinstance(texts, list) else [str(texts)]
                )
    headers: dict[str, str] = {}
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    return failure(status, message, errors, headers)


def handle_domain_error(error: DomainValidationError) -> Response:
    return failure(422, "Some fields are not valid; see the issues.", error.errors)


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, RecursionError):
        return failure(400, "The JSON body is nested too deeply.")
    log.exception("unhandled error")
    return failure(500, "An unexpected error occurred; it has been logged.")


def register_errors(bp: Blueprint) -> None:
    bp.register_error_handler(UseCaseError, handle_use_case_error)
    bp.register_error_handler(DomainValidationError, handle_domain_error)
    bp.register_error_handler(Exception, handle_unexpected)


__all__ = [
    "FHIR_JSON",
    "base_url",
    "failure",
    "issue",
    "outcome",
    "resource",
    "searchset",
]
