"""The WSGI application: the JSON API with the clinicians' console mounted beside it.

Both entrypoints share the process's runtime (service.bootstrap) and call the same
use cases; neither imports the other.
"""

from __future__ import annotations

from flask import Flask, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from service import console
from service.api import errors as api_errors
from service.api.app import build_app as build_api
from service.config import Settings
from service.console import errors as console_errors


def _routing_error(error: HTTPException) -> ResponseReturnValue:
    """A path no route matches, or a method a route does not take, before any
    blueprint is chosen: a page under /console, the API's JSON everywhere else."""
    if request.path == "/console" or request.path.startswith("/console/"):
        return console_errors.http_error(error)
    return api_errors.handle_http_exception(error)


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = build_api(settings)
    console.install(app, settings)
    app.register_error_handler(404, _routing_error)
    app.register_error_handler(405, _routing_error)
    return app
