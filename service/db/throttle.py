"""Failed-login counters shared by every API worker: in the database or in Redis.

Fixed windows: the first failure opens a window of `window_seconds`; once
`limit` failures are inside it, the key is refused until the window closes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Protocol

from sqlalchemy import bindparam, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from service.db.tables import LoginFailure, UTCDateTime


def hashed_key(raw: str) -> str:
    """Counters are keyed by a digest so that e-mail addresses are not stored here."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class LoginThrottle(Protocol):
    def retry_after(self, key: str, *, now: dt.datetime, limit: int) -> int | None:
        """Seconds until `key` may try again, or None when it is not blocked."""

    def record_failure(self, key: str, *, now: dt.datetime) -> None: ...

    def reset(self, key: str) -> None: ...


class DatabaseLoginThrottle:
    """Counters in `login_failures`, written in the caller's transaction."""

    def __init__(self, session: Session, *, window_seconds: int) -> None:
        self._s = session
        self._window = dt.timedelta(seconds=window_seconds)

    def retry_after(self, key: str, *, now: dt.datetime, limit: int) -> int | None:
        row = self._s.get(LoginFailure, hashed_key(key))
        if row is None or row.count < limit:
            return None
        remaining = row.window_start + self._window - now
        if remaining.total_seconds() <= 0:
            return None
        return max(1, int(remaining.total_seconds() + 0.999))

    def record_failure(self, key: str, *, now: dt.datetime) -> None:
        table: Any = LoginFailure.__table__  # type: ignore[attr-defined]
        dialect = self._s.get_bind().dialect.name
        insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert_fn(table).values(key=hashed_key(key), window_start=now, count=1)
        cutoff = bindparam("cutoff", now - self._window, type_=UTCDateTime())
        in_window = table.c.window_start > cutoff
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((in_window, table.c.count + 1), else_=1),
                "window_start": case(
                    (in_window, table.c.window_start), else_=stmt.excluded.window_start
                ),
            },
        )
        self._s.execute(stmt)
        self._s.expire_all()

    def reset(self, key: str) -> None:
        row = self._s.get(LoginFailure, hashed_key(key))
        if row is not None:
            self._s.delete(row)


class RedisLoginThrottle:
    """Counters in Redis (`MEDTRACK_REDIS_URL`): INCR with an expiry per window."""

    def __init__(self, client: Any, *, window_seconds: int) -> None:
        self._r = client
        self._window = window_seconds

    @staticmethod
    def _name(key: str) -> str:
        return f"medtrack:login-failures:{hashed_key(key)}"

    def retry_after(self, key: str, *, now: dt.datetime, limit: int) -> int | None:
        name = self._name(key)
        pipe = self._r.pipeline()
        pipe.get(name)
        pipe.ttl(name)
        count, ttl = pipe.execute()
        if count is None or int(count) < limit or ttl is None or int(ttl) <= 0:
            return None
        return int(ttl)

    def record_failure(self, key: str, *, now: dt.datetime) -> None:
        name = self._name(key)
        pipe = self._r.pipeline()
        pipe.incr(name)
        # NX: the window opens at the first failure and is not pushed back by later ones.
        pipe.expire(name, self._window, nx=True)
        pipe.execute()

    def reset(self, key: str) -> None:
        self._r.delete(self._name(key))
