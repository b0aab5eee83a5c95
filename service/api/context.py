"""The views' one door to the process: the request context shared with the console
(service.web.context), request ids, the bearer token, and the probes' questions to
the database (does it answer, which schema is it at).

With the app factory, this is the only API module that knows the database.
"""

from __future__ import annotations

import functools
import re
import uuid

from flask import Response, g, request
from sqlalchemy.exc import SQLAlchemyError

from service.db.migrate import current_heads, known_revisions
from service.usecases.errors import Unavailable
from service.web.bearer import bearer_token, require_auth
from service.web.context import (
    EXTENSION,
    Acting,
    Asking,
    Planning,
    RequestContext,
    RequestUnitOfWork,
    ctx,
    runtime,
)

__all__ = [
    "EXTENSION",
    "Acting",
    "Asking",
    "Planning",
    "RequestContext",
    "RequestUnitOfWork",
    "assign_request_id",
    "bearer_token",
    "ctx",
    "echo_request_id",
    "require_auth",
    "runtime",
]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def assign_request_id() -> None:
    """Every request gets an id made here; a well-formed X-Request-ID from the client
    (or a proxy) is kept beside it, never instead of it, so that no client can make
    its request look like another one in the audit trail."""
    g.request_id = uuid.uuid4().hex
    incoming = request.headers.get("X-Request-ID", "")
    g.client_request_id = incoming if _REQUEST_ID.match(incoming) else None


def echo_request_id(response: Response) -> Response:
    """The server's id in X-Request-ID; the client's own, when it sent one, back in
    X-Client-Request-ID for its correlation."""
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    client_id = g.get("client_request_id")
    if client_id:
        response.headers["X-Client-Request-ID"] = client_id
    return response


_UNREACHABLE = "The database is unreachable."


def ping_database() -> None:
    """One round trip to the database; Unavailable when it fails in any way."""
    try:
        with runtime().db.uow() as u:
            u.ping()
    except SQLAlchemyError as exc:
        raise Unavailable(_UNREACHABLE) from exc


def schema_revisions() -> frozenset[str]:
    """The migration revisions the database is at (empty before the first upgrade);
    Unavailable when it does not answer."""
    try:
        with runtime().db.uow() as u:
            u.ping()
            return u.schema_revisions()
    except SQLAlchemyError as exc:
        raise Unavailable(_UNREACHABLE) from exc


@functools.cache
def release_heads() -> frozenset[str]:
    """The revisions this release's migrations end at."""
    return frozenset(current_heads())


@functools.cache
def release_revisions() -> frozenset[str]:
    """Every revision this release's migrations define."""
    return known_revisions()
