"""One JSON error shape for every failure: {code, status, message, errors}.

`errors` maps a field path to messages: body fields by their dotted path
(`schedule.times.0`), query and path parameters prefixed (`query.limit`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from service.api import bodies
from service.api.context import ctx
from service.domain.errors import DomainValidationError
from service.usecases.errors import (
    InteractionConflict,
    PreconditionFailed,
    TooSoon,
    UnresolvedDrug,
    UseCaseError,
)
from service.web import refusals
from service.web.messages import flatten
from service.web.refusals import RETRY_AFTER_SECONDS

log = logging.getLogger("medtrack.api")


class ErrorSchema(ma.Schema):
    code = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "HTTP status name"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Messages by field path (`dose.amount`, `query.limit`)"},
    )


def _locations(messages: Mapping[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for location, msgs in messages.items():
        prefix = "" if location in ("json", "form") else location
        for path, texts in flatten(msgs, prefix).items():
            out.setdefault(path or "body", []).extend(texts)
    return out


def error_body(
    status: int, message: str, errors: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """The error shape, also written by the server layer (service.server) where
    there is no Flask application."""
    return {
        "code": status,
        "status": HTTPStatus(status).phrase,
        "message": message,
        "errors": dict(errors or {}),
    }


def error_response(
    status: int,
    message: str,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    response = jsonify({**error_body(status, message, errors), **(extra or {})})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_DEFAULT_MESSAGES = {
    400: "The request could not be read; send a JSON body with Content-Type application/json.",
    404: "No such resource.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "Send the body as application/json.",
    422: "Some fields are not valid; see errors.",
}


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    errors: dict[str, list[str]] = {}
    if "messages" in data:
        errors = _locations(data["messages"])
    message = data.get("message") or _DEFAULT_MESSAGES.get(status) or error.description or ""
    headers = dict(data.get("headers") or {})
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    return error_response(status, message, errors, headers)


def handle_use_case_error(error: UseCaseError) -> Response:
    answered = refusals.answer(error, ctx())
    if answered.error is None:
        return error_response(answered.status, answered.message)
    error, status, headers = answered.error, answered.status, dict(answered.headers)
    if isinstance(error, PreconditionFailed):
        headers["ETag"] = f'"{error.current_version}"'
    extra: dict[str, Any] | None = None
    if isinstance(error, TooSoon):
        extra = {"next_allowed_at": error.next_allowed_at.astimezone(dt.UTC).isoformat()}
    if isinstance(error, UnresolvedDrug):
        extra = {"suggestions": error.suggestions}
    if isinstance(error, InteractionConflict):
        extra = {
            "findings": error.findings,
            "knowledge_base_version": error.knowledge_base_version,
        }
    return error_response(status, error.message, error.errors, headers, extra)


def handle_domain_error(error: DomainValidationError) -> Response:
    # Use cases report broken rules as ValidationFailed; this is the backstop.
    return error_response(422, "Some fields are not valid; see errors.", error.errors)


def handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, RecursionError):
        # A JSON body nested thousands deep exhausts the parser's stack.
        return error_response(400, "The JSON body is nested too deeply.")
    if isinstance(error, RedisError):
        log.error("redis unavailable: %s", error.__class__.__name__)
        return error_response(
            503,
            "A backing service is unavailable; retry shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    log.exception("unhandled error")
    return error_response(500, "An unexpected error occurred; it has been logged.")


def register(app: Flask) -> None:
    # After the app's own before_request hooks (request id, length): every JSON body
    # is read once here, so no view or parser meets one that cannot be decoded.
    app.before_request(bodies.check_json_body)
    app.register_error_handler(UseCaseError, handle_use_case_error)
    app.register_error_handler(DomainValidationError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
