"""Cross-origin requests from browser apps on the origins in MEDTRACK_CORS_ORIGINS.

The JSON API (and its description), the FHIR API and the CDS Hooks service answer
them (an EHR's web client or the CDS Hooks sandbox calls from the browser); the
console is same-origin, with a session cookie, and never does. An origin not listed gets no
Access-Control-Allow-Origin, so the browser keeps the answer from the page. Tokens
travel in the Authorization header, never in cookies, so credentials are not allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, request

ALLOW_METHODS = "GET, POST, PATCH, DELETE"
ALLOW_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, If-Match, If-None-Match, X-Request-ID"
)
EXPOSE_HEADERS = (
    "ETag, X-Total-Count, Retry-After, Link, Location, Content-Disposition, "
    "WWW-Authenticate, X-Request-ID, X-Client-Request-ID"
)
# How long a browser may reuse a preflight answer (browsers cap it at 2 h or less).
MAX_AGE_SECONDS = "600"


# The paths served to other origins: every entrypoint that takes a bearer token.
CROSS_ORIGIN_PREFIXES = ("/v1/", "/fhir/R4/", "/cds-services")


def _served_cross_origin(path: str) -> bool:
    return path.startswith(CROSS_ORIGIN_PREFIXES) or path == "/openapi.json"


def _allowed_origin(origins: frozenset[str]) -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin.lower() in origins and _served_cross_origin(request.path):
        return origin
    return None


def install(app: Flask, origins: Iterable[str]) -> None:
    allowed = frozenset(origins)

    def preflight() -> Response | None:
        is_preflight = request.method == "OPTIONS" and request.headers.get(
            "Access-Control-Request-Method"
        )
        if not is_preflight or not _served_cross_origin(request.path):
            return None
        # Answered here, before any view or authentication: a preflight carries no token.
        response = Response(status=204)
        origin = _allowed_origin(allowed)
        if origin is not None:
            response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
            response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = MAX_AGE_SECONDS
        return response

    def allow(response: Response) -> Response:
        if not _served_cross_origin(request.path):
            return response
        # The answer depends on Origin, so shared caches must key on it.
        response.vary.add("Origin")
        origin = _allowed_origin(allowed)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response

    app.before_request(preflight)
    app.after_request(allow)
