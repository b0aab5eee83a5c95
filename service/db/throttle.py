"""Login-attempt counters shared by every API worker: in the database or in Redis.

Two kinds of counter. `attempt` counts in fixed windows: the first attempt opens
a window of `window_seconds` (a client's cap over every account, the account's
alert). `pace` spaces attempts out: after the free ones, each attempt sets how
long the next must wait (one account from one client); the count is forgotten
after a quiet window that follows the last wait. Either is counted *before* the password is
checked, so that parallel guesses cannot all slip past while the slow hash runs;
a successful login gives its attempt back (`release`) or clears the key (`reset`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Protocol

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from service.db.engine import begin_writing
from service.db.tables import LoginFailure, UTCDateTime
from service.domain.accounts import LoginBackoff


def hashed_key(raw: str) -> str:
    """Counters are keyed by a digest so that e-mail addresses are not stored here."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class LoginThrottle(Protocol):
    def attempt(self, key: str, *, now: dt.datetime) -> tuple[int, int]:
        """Count one attempt; returns (attempts in the window, seconds the window has left)."""

    def pace(self, key: str, *, now: dt.datetime, backoff: LoginBackoff) -> int:
        """Count one attempt unless the key must still wait; returns the seconds
        left to wait (the attempt was not counted) or 0 (go ahead, counted)."""

    def release(self, key: str, *, now: dt.datetime) -> None:
        """Give back one attempt (it succeeded)."""

    def reset(self, key: str) -> None:
        """Forget the key's attempts."""

    def remember(self, key: str, *, now: dt.datetime, seconds: int) -> None:
        """Keep a mark under `key` for `seconds` (a client an account signed in from)."""

    def remembers(self, key: str, *, now: dt.datetime) -> bool:
        """Whether a mark under `key` is still kept."""


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

    def pace(self, key: str, *, now: dt.datetime, backoff: LoginBackoff) -> int:
        table: Any = LoginFailure.__table__  # type: ignore[attr-defined]
        dialect = self._s.get_bind().dialect.name
        insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        digest = hashed_key(key)
        # The row is locked (SQLite: the write lock) before it is read, so parallel
        # attempts take turns: the second sees the wait the first has set.
        begin_writing(self._s)
        self._s.execute(
            insert_fn(table)
            .values(key=digest, window_start=now, count=0)
            .on_conflict_do_nothing(index_elements=[table.c.key])
        )
        count, last, blocked = self._s.execute(
            select(table.c.count, table.c.window_start, table.c.blocked_until)
            .where(table.c.key == digest)
            .with_for_update()
        ).one()
        if blocked is not None and blocked > now:
            return max(1, int((blocked - now).total_seconds() + 0.999))
        if max(last, blocked or last) + self._window <= now:
            count = 0  # a quiet window after the last wait: start again
        count += 1
        delay = backoff.delay_after(count)
        self._s.execute(
            update(table)
            .where(table.c.key == digest)
            .values(
                count=count,
                window_start=now,
                blocked_until=now + dt.timedelta(seconds=delay) if delay else None,
            )
        )
        return 0

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

    # A mark is a row that counts nothing; its `blocked_until` is when it is forgotten.
    def remember(self, key: str, *, now: dt.datetime, seconds: int) -> None:
        table: Any = LoginFailure.__table__  # type: ignore[attr-defined]
        dialect = self._s.get_bind().dialect.name
        insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        until = now + dt.timedelta(seconds=seconds)
        stmt = insert_fn(table).values(
            key=hashed_key(key), window_start=now, count=0, blocked_until=until
        )
        self._s.execute(
            stmt.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={"window_start": now, "blocked_until": until},
            )
        )

    def remembers(self, key: str, *, now: dt.datetime) -> bool:
        row = self._s.get(LoginFailure, hashed_key(key))
        return row is not None and row.blocked_until is not None and row.blocked_until > now


# One round trip, atomic: the count and the time before which no attempt is let
# through, in a hash that expires a window after the wait it sets.
# As LoginBackoff.delay_after. KEYS[1]; ARGV: now (ms), window (s), free, base (s),
# max (s). Returns the milliseconds left to wait, 0 when the attempt was counted.
_PACE = """
local now = tonumber(ARGV[1])
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked') or '0')
if blocked > now then return blocked - now end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local beyond = count - tonumber(ARGV[3])
local delay = 0
if beyond >= 0 then
  delay = math.min(tonumber(ARGV[4]) * 2 ^ math.min(beyond, 32), tonumber(ARGV[5]))
end
redis.call('HSET', KEYS[1], 'blocked', string.format('%.0f', now + delay * 1000))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) + math.ceil(delay))
return 0
"""


class RedisLoginThrottle:
    """Counters in Redis (`MEDTRACK_REDIS_URL`): INCR with an expiry per window."""

    def __init__(self, client: Any, *, window_seconds: int) -> None:
        self._r = client
        self._window = window_seconds
        self._pace = client.register_script(_PACE)

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

    def pace(self, key: str, *, now: dt.datetime, backoff: LoginBackoff) -> int:
        wait_ms = self._pace(
            keys=[self._name(key)],
            args=[
                int(now.timestamp() * 1000),
                self._window,
                backoff.free,
                backoff.base_seconds,
                backoff.max_seconds,
            ],
        )
        return max(1, -(-int(wait_ms) // 1000)) if int(wait_ms) > 0 else 0

    def release(self, key: str, *, now: dt.datetime) -> None:
        name = self._name(key)
        if int(self._r.decr(name)) < 0:
            self._r.set(name, 0, keepttl=True)

    def reset(self, key: str) -> None:
        self._r.delete(self._name(key))

    def remember(self, key: str, *, now: dt.datetime, seconds: int) -> None:
        self._r.set(self._name(key), 1, ex=seconds)

    def remembers(self, key: str, *, now: dt.datetime) -> bool:
        return bool(self._r.exists(self._name(key)))
