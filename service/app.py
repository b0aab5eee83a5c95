"""The WSGI application: the JSON API with the clinicians' console, the FHIR API and the
CDS Hooks service mounted beside it.

Every entrypoint shares the process's runtime (service.bootstrap) and calls the same
use cases; none imports another.
"""

from __future__ import annotations

from flask import Flask, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from service import console, interop
from service.api import errors as api_errors
from service.api.app import build_app as build_api
from service.config import Settings
from service.console import errors as console_errors
from service.interop.fhir import responses as fhir_responses


def _routing_error(error: HTTPException) -> ResponseReturnValue:
    """A path no route matches, or a method a route does not take, before any
    blueprint is chosen: a page under /console, the API's JSON everywhere else."""
    if request.path == "/console" or request.path.startswith("/console/"):
        return console_errors.http_error(error)
    if request.path.startswith(interop.fhir.PREFIX + "/") or request.path == interop.fhir.PREFIX:
        return fhir_responses.handle_http_exception(error)
    return api_errors.handle_http_exception(error)


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = build_api(settings)
    console.install(app, settings)
    interop.install(app, settings)
    app.register_error_handler(404, _routing_error)
    app.register_error_handler(405, _routing_error)
    return app
