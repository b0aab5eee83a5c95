"""The bearer token of the JSON API and the FHIR API: read from the Authorization
header and resolved to a principal before a view runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, request

from service.usecases import auth
from service.usecases.errors import Unauthenticated
from service.web.context import RequestUnitOfWork, runtime

_MAX_TOKEN_LENGTH = 4096

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    return token


def require_auth(view: F) -> F:
    """Resolve the bearer token to a principal before the view runs (401 otherwise)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        r = runtime()
        g.principal = auth.authenticate(
            uow=RequestUnitOfWork(r.db), clock=r.clock, tokens=r.tokens, token=bearer_token()
        )
        return view(*args, **kwargs)

    return cast(F, wrapper)
