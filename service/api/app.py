"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, Response, request, send_from_directory
from flask_smorest import Api
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
from werkzeug.middleware.proxy_fix import ProxyFix

from service import knowledge
from service.api import errors
from service.api.context import EXTENSION, Services, assign_request_id, echo_request_id
from service.api.links import LinksPlugin
from service.config import DEV_SECRET_KEY, Settings
from service.db.uow import Database
from service.runtime import reminder_policy
from service.usecases.auth import LoginPolicy
from service.usecases.context import utc_now
from service.usecases.security import Passwords, Tokens

log = logging.getLogger("medtrack")
API_VERSION = "1.0.0"
DOCS_ASSETS = "/docs/assets/"

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Access token from POST /v1/auth/token.",
    }
}


class MedtrackApi(Api):  # type: ignore[misc]
    """flask-smorest Api with medtrack's error shape for every HTTP error."""

    ERROR_SCHEMA = errors.ErrorSchema

    def handle_http_exception(self, error: Exception) -> Response:
        return errors.handle_http_exception(error)  # type: ignore[arg-type]


def _config(app: Flask, settings: Settings) -> None:
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="medtrack",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Medication tracking, dose reminders and safe tapering. "
                    "Errors share one shape: {code, status, message, errors}."
                ),
                "license": {"name": "Apache-2.0"},
            },
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "security": [{"bearerAuth": []}],
        },
    )


def _security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    if not request.path.startswith("/docs"):
        # Responses carry health data: never cached by browsers or proxies.
        h.setdefault("Cache-Control", "no-store")
        h.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    return response


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=settings.log_level)
    app = Flask("medtrack")
    _config(app, settings)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    if settings.env == "development" and settings.secret_key == DEV_SECRET_KEY:
        log.warning("MEDTRACK_SECRET_KEY is the development default: tokens are forgeable")
    db = Database(
        settings.database_url,
        redis_url=settings.redis_url,
        login_window_seconds=settings.login_window_seconds,
    )
    app.extensions[EXTENSION] = Services(
        settings=settings,
        db=db,
        clock=utc_now,
        passwords=Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        tokens=Tokens(secret_key=settings.secret_key, ttl_seconds=settings.token_ttl_seconds),
        login_policy=LoginPolicy(max_failures=settings.login_max_failures),
        knowledge=knowledge.load(),
        reminders=reminder_policy(settings),
    )
    app.before_request(assign_request_id)
    app.after_request(echo_request_id)
    app.after_request(_security_headers)

    api = MedtrackApi(app, spec_kwargs={"extra_plugins": [LinksPlugin()]})
    errors.register(app)
    from service.api import routes

    routes.register(api)

    @app.get(f"{DOCS_ASSETS}<path:filename>")
    def docs_assets(filename: str) -> Response:
        return send_from_directory(swagger_ui_path, filename, max_age=86400)

    return app
