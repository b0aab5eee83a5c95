"""The CDS Hooks service's failures as JSON: the JSON API's error shape (code,
message, errors by field), with the status of each use-case error, a malformed call
being 400 and a refused token 401 with a Bearer challenge."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from service.interop.cds.requests import BadCall
from service.usecases.errors import Unauthenticated, UseCaseError
from service.web.refusals import status_of


def failure(status: int, message: str, errors: dict[str, list[str]] | None = None) -> Response:
    response = jsonify({"code": status, "message": message, "errors": errors or {}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="cds-services"'
    return response


def _use_case_error(error: UseCaseError) -> Response:
    status = 400 if isinstance(error, BadCall) else status_of(error)
    if isinstance(error, Unauthenticated):
        status = 401
    return failure(status, error.message, error.errors)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(UseCaseError, _use_case_error)
