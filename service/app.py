"""The WSGI application: the JSON API with the clinicians' console mounted beside it.

Both entrypoints share the process's runtime (service.bootstrap) and call the same
use cases; neither imports the other.
"""

from __future__ import annotations

from flask import Flask

from service import console
from service.api.app import build_app as build_api
from service.config import Settings


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = build_api(settings)
    console.install(app, settings)
    return app
