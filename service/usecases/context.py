"""What every use case is given besides its input: who is calling, and the clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.domain.accounts import Principal

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, kw_only=True)
class Caller:
    """The principal (None for the command line and the scheduler) and request facts."""

    principal: Principal | None
    request_id: str | None = None
    client_request_id: str | None = None
    source_ip: str | None = None
    agent: str = "api"

    def require(self) -> Principal:
        from service.usecases.errors import Unauthenticated

        if self.principal is None:
            raise Unauthenticated("Authentication is required.")
        return self.principal


SYSTEM = Caller(principal=None, agent="cli")
SCHEDULER = Caller(principal=None, agent="scheduler")


def jsonable(value: Any) -> Any:
    """Plain JSON types for audit snapshots (dataclasses, dates, decimals, UUIDs)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.time):
        return value.isoformat(timespec="minutes" if not value.second else "seconds")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    return value
