"""Login-attempt counters shared by every API worker: in the database or in Redis.

Fixed windows: the first attempt opens a window of `window_seconds`. An attempt
is counted *before* the password is checked, so that parallel guesses cannot
all slip past the limit while the slow hash runs; a successful login gives its
attempt back (`release`) or clears the account's counter (`reset`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Protocol

from sqlalchemy import bindparam, case, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from service.db.tables import LoginFailure, UTCDateTime


def hashed_key(raw: str) -> str:
    """Counters are keyed by a digest so that e-mail addresses are not stored here."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class LoginThrottle(Protocol):
    def attempt(self, key: str, *, now: dt.datetime) -> tuple[int, int]:
        """Count one attempt; returns (attempts in the window, seconds the window has left)."""

    def release(self, key: str, *, now: dt.datetime) -> None:
        """Give back one attempt (it succeeded)."""

    def reset(self, key: str) -> None:
        """Forget the key's attempts."""


class DatabaseLoginThrottle:
    """Counters in `login_failures`, written in the caller's transaction."""

    def __init__(self, session: Session, *, window_seconds: int) -> None:
        self._s = session
        self._window = dt.timedelta(seconds=window_seconds)

    def attempt(self, key: str, *, now: dt.datetime) -> tuple[int, int]:
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
        ).returning(table.c.count, table.c.window_start)
        count, window_start = self._s.execute(stmt).one()
        remaining = (window_start + self._window - now).total_seconds()
        return int(count), max(1, int(remaining + 0.999))

    def release(self, key: str, *, now: dt.datetime) -> None:
        self._s.execute(
            update(LoginFailure)
            .where(LoginFailure.key == hashed_key(key), LoginFailure.count > 0)  # type: ignore[arg-type]
            .values(count=LoginFailure.count - 1)
        )

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

    def attempt(self, key: str, *, now: dt.datetime) -> tuple[int, int]:
        name = self._name(key)
        pipe = self._r.pipeline()
        pipe.incr(name)
        # NX: the window opens at the first attempt and is not pushed back by later ones.
        pipe.expire(name, self._window, nx=True)
        pipe.ttl(name)
        count, _, ttl = pipe.execute()
        return int(count), max(1, int(ttl))

    def release(self, key: str, *, now: dt.datetime) -> None:
        name = self._name(key)
        if int(self._r.decr(name)) < 0:
            self._r.set(name, 0, keepttl=True)

    def reset(self, key: str) -> None:
        self._r.delete(self._name(key))
