"""The one database transaction a keyed request runs in (an `Idempotency-Key`: see
service/usecases/idempotency.py). While it is open, every unit of work the request's
context hands out joins it."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import g
from sqlalchemy.exc import SQLAlchemyError

from service.db.idempotency import IdempotencyRepository, RequestTransaction
from service.usecases.errors import Unavailable
from service.web.context import REQUEST_TRANSACTION, runtime


def open_transaction(*, user_id: uuid.UUID, expired_before: dt.datetime) -> IdempotencyRepository:
    """Delete the caller's expired keys, then begin the request's transaction; its keys."""
    try:
        transaction = RequestTransaction(runtime().db, purge=(user_id, expired_before))
    except SQLAlchemyError as exc:
        raise Unavailable("The database is unavailable; retry shortly.") from exc
    setattr(g, REQUEST_TRANSACTION, transaction)
    return transaction.keys


def keys() -> IdempotencyRepository | None:
    transaction: RequestTransaction | None = g.get(REQUEST_TRANSACTION)
    return transaction.keys if transaction is not None else None


def close_transaction(*, commit: bool) -> None:
    """Commit (or roll back) and close the request's transaction, if one is open; a
    commit that fails is Unavailable, and then nothing of the request was kept."""
    transaction: RequestTransaction | None = g.pop(REQUEST_TRANSACTION, None)
    if transaction is None or transaction.closed:
        return
    if not commit:
        transaction.rollback()
        return
    try:
        transaction.commit()
    except SQLAlchemyError as exc:
        raise Unavailable("The database is unavailable; retry shortly.") from exc


def database_error(exc: BaseException) -> bool:
    """Whether `exc` is the database failing (an outage, a lost connection)."""
    return isinstance(exc, SQLAlchemyError)
