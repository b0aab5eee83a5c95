"""Per-application services and per-request caller, for the views."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from flask import Response, current_app, g, request

from service.config import Settings
from service.db.uow import Database, UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.usecases import auth
from service.usecases.auth import LoginPolicy
from service.usecases.context import Caller, Clock
from service.usecases.errors import Unauthenticated
from service.usecases.reminders import ReminderPolicy
from service.usecases.security import Passwords, Tokens

EXTENSION = "medtrack"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    db: Database
    clock: Clock
    passwords: Passwords
    tokens: Tokens
    login_policy: LoginPolicy
    knowledge: KnowledgeBase
    reminders: ReminderPolicy


def services() -> Services:
    return cast(Services, current_app.extensions[EXTENSION])


def uow() -> UnitOfWork:
    return services().db.uow()


def caller() -> Caller:
    return Caller(
        principal=g.get("principal"),
        request_id=g.get("request_id"),
        client_request_id=g.get("client_request_id"),
        source_ip=request.remote_addr,
    )


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


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    return token


F = TypeVar("F", bound=Callable[..., Any])


def require_auth(view: F) -> F:
    """Resolve the bearer token to a principal before the view runs (401 otherwise)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        s = services()
        g.principal = auth.authenticate(
            uow=s.db.uow(), clock=s.clock, tokens=s.tokens, token=bearer_token()
        )
        return view(*args, **kwargs)

    return cast(F, wrapper)
