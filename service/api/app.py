"""The Flask application factory."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix

from service.api import cors, errors, swagger
from service.api.context import EXTENSION, assign_request_id, echo_request_id
from service.api.docs import VERSION
from service.api.links import LinksPlugin
from service.bootstrap import bootstrap
from service.config import Settings
from service.db.logs import configure_logging

API_VERSION = VERSION

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


# The API answers JSON, CSV and a script-free SVG: nothing on its pages may load or run.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI: its own scripts and styles, the spec from this origin, nothing from
# elsewhere; no inline script runs (the page has none); inline styles are allowed.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    if request.is_secure:
        # Over TLS (directly, or X-Forwarded-Proto from a trusted proxy): HTTPS only from now on.
        h.setdefault("Strict-Transport-Security", HSTS)
    if request.path.startswith(swagger.PREFIX):
        h.setdefault("Content-Security-Policy", DOCS_CSP)
    else:
        # Responses carry health data: never cached by browsers or proxies.
        h.setdefault("Cache-Control", "no-store")
        h.setdefault("Content-Security-Policy", API_CSP)
    return response


def _length_required() -> None:
    """A streamed (chunked) body has no length to hold against MEDTRACK_MAX_BODY_BYTES,
    and Werkzeug cuts it at the limit without a word: such a body is refused (411)."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if chunked and request.content_length is None:
        abort(411, description="Send the body with a Content-Length header.")


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    # No static folder: every route is an API route, the docs or their assets.
    app = Flask("medtrack", static_folder=None)
    _config(app, settings)
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.extensions[EXTENSION] = bootstrap(settings)
    app.before_request(assign_request_id)
    cors.install(app, settings.cors_origins)
    app.before_request(_length_required)
    app.after_request(echo_request_id)
    app.after_request(_security_headers)

    api = MedtrackApi(app, spec_kwargs={"extra_plugins": [LinksPlugin()]})
    errors.register(app)
    from service.api import routes

    routes.register(api)
    swagger.register(app)
    return app
