"""The views' one door to the process: the runtime built at start-up (service.bootstrap)
and, per request, who is calling.

With the app factory, this is the only API module that knows the database: its
units of work hand the database's failures on as use-case errors, and the probes
ask it whether it answers and which schema it is at.
"""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypedDict, TypeVar, cast

from flask import Response, current_app, g, request
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from service.bootstrap import Runtime
from service.config import Settings
from service.db.migrate import current_heads, known_revisions
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.usecases import auth
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Unauthenticated, Unavailable, UseCaseError
from service.usecases.message_refs import MessageRefs
from service.usecases.reminders import ReminderPolicy
from service.usecases.security import Passwords, Tokens
from service.usecases.sessions import LoginPolicy

log = logging.getLogger("medtrack.api")
EXTENSION = "medtrack"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_MAX_TOKEN_LENGTH = 4096


def runtime() -> Runtime:
    """What the app factory built for this process."""
    return cast(Runtime, current_app.extensions[EXTENSION])


def _database_failure(error: BaseException) -> UseCaseError | None:
    """The use-case error a database failure is answered as, if it is one."""
    if isinstance(error, OperationalError):
        # Connection refused, server restarting, SQLite busy beyond its timeout: the
        # request changed nothing (its transaction did not commit) and may be retried.
        log.error("database unavailable: %s", error.orig.__class__.__name__)
        return Unavailable("The database is unavailable; retry shortly.")
    if isinstance(error, IntegrityError):
        # A concurrent request won a uniqueness race; the client may retry.
        log.warning("integrity error: %s", error.orig.__class__.__name__)
        return Conflict("The change conflicts with another one; retry.")
    return None


class RequestUnitOfWork(UnitOfWork):
    """The API's unit of work: a database that does not answer leaves it as
    Unavailable and a lost uniqueness race as Conflict, so that no view or error
    handler meets SQLAlchemy."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            super().__exit__(exc_type, exc, tb)
        except SQLAlchemyError as failure:
            translated = _database_failure(failure)
            if translated is None:
                raise
            raise translated from failure
        translated = _database_failure(exc) if exc is not None else None
        if translated is not None:
            raise translated from exc


class Asking(TypedDict):
    """What a use case that reads without the time takes first."""

    uow: UnitOfWork
    caller: Caller


class Acting(Asking):
    """What nearly every use case takes first: its transaction, who asks, and when."""

    clock: Clock


class Planning(Acting):
    """What a use case that plans doses takes first: the catalog and reminder timings too."""

    kb: KnowledgeBase
    policy: ReminderPolicy


@dataclass(frozen=True)
class RequestContext:
    """One request's caller and the process's collaborators, for the view to hand on."""

    runtime: Runtime
    caller: Caller

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def clock(self) -> Clock:
        return self.runtime.clock

    @property
    def kb(self) -> KnowledgeBase:
        return self.runtime.knowledge

    @property
    def reminders(self) -> ReminderPolicy:
        return self.runtime.reminders

    @property
    def passwords(self) -> Passwords:
        return self.runtime.passwords

    @property
    def tokens(self) -> Tokens:
        return self.runtime.tokens

    @property
    def login_policy(self) -> LoginPolicy:
        return self.runtime.login_policy

    @property
    def refs(self) -> MessageRefs:
        """Message references, signed with the secret key."""
        return MessageRefs(self.runtime.settings.secret_key)

    def uow(self) -> UnitOfWork:
        """A new unit of work: one per use-case call."""
        return RequestUnitOfWork(self.runtime.db)

    def args_without_clock(self) -> Asking:
        return {"uow": self.uow(), "caller": self.caller}

    def args(self) -> Acting:
        return {"uow": self.uow(), "caller": self.caller, "clock": self.clock}

    def planning_args(self) -> Planning:
        return {**self.args(), "kb": self.kb, "policy": self.reminders}


def ctx() -> RequestContext:
    """The context of the request being served."""
    caller = Caller(
        principal=g.get("principal"),
        request_id=g.get("request_id"),
        client_request_id=g.get("client_request_id"),
        source_ip=request.remote_addr,
    )
    return RequestContext(runtime=runtime(), caller=caller)


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
        r = runtime()
        g.principal = auth.authenticate(
            uow=RequestUnitOfWork(r.db), clock=r.clock, tokens=r.tokens, token=bearer_token()
        )
        return view(*args, **kwargs)

    return cast(F, wrapper)


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
