"""One request's door to the process: the runtime built at start-up
(service.bootstrap), who is calling, and units of work that hand the database's
failures on as use-case errors. The JSON API and the console both stand on it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import TypedDict, cast

from flask import current_app, g, request
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from service.bootstrap import Runtime
from service.config import Settings
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Unavailable, UseCaseError
from service.usecases.message_refs import MessageRefs
from service.usecases.reminders import ReminderPolicy
from service.usecases.security import Passwords, Tokens
from service.usecases.sessions import LoginPolicy

log = logging.getLogger("medtrack.web")
EXTENSION = "medtrack"
# Where a keyed request keeps its one transaction (service/web/transaction.py).
REQUEST_TRANSACTION = "medtrack_request_transaction"


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
        """A new unit of work: one per use-case call; inside the request's own
        transaction when it has one (service/web/transaction.py)."""
        joined = g.get(REQUEST_TRANSACTION)
        return RequestUnitOfWork(joined.database if joined is not None else self.runtime.db)

    def args_without_clock(self) -> Asking:
        return {"uow": self.uow(), "caller": self.caller}

    def args(self) -> Acting:
        return {"uow": self.uow(), "caller": self.caller, "clock": self.clock}

    def planning_args(self) -> Planning:
        return {**self.args(), "kb": self.kb, "policy": self.reminders}


def ctx(agent: str = "api") -> RequestContext:
    """The context of the request being served."""
    caller = Caller(
        principal=g.get("principal"),
        request_id=g.get("request_id"),
        client_request_id=g.get("client_request_id"),
        source_ip=request.remote_addr,
        agent=agent,
    )
    return RequestContext(runtime=runtime(), caller=caller)
