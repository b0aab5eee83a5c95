"""A circuit breaker per receiving endpoint, so one failing or slow receiver does not
hold the messages bound for the others.

What the breaker watches is time, not answers. A send counts against its endpoint when
it was slow: cut at its deadline, or over half of it, whatever the status (a "200"
trickled over the whole deadline holds a thread as long as a timeout does). A prompt
answer counts for it, whatever the status: a receiver that refuses a connection or
answers 503 at once holds nobody up, and the outbox's retry backoff already paces
what is sent to it.

Closed: sends go ahead. After `failures` slow sends in a row the endpoint's circuit
opens: for `open_seconds` nothing is sent there, and the caller defers those messages
without counting an attempt. Then one send is let through as a probe (half-open); a
prompt outcome closes the circuit, a slow one opens it again.

The state lives in the process, not the database: each send already ends within its
deadline, so a scheduler replica that has not yet learnt of a bad endpoint loses at
most `failures` deadlines to it, while a shared table would put a write on every
failure and a read on every batch of the dispatch path, for every endpoint. A restart
forgets the state, and the endpoint is tried again, which is what a probe does anyway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from service.notify.base import Deferred

DEFAULT_PORTS = {"http": 80, "https": 443}
T = TypeVar("T")


def endpoint_key(url: str) -> str:
    """`host:port` of a URL: the receiver a circuit stands for."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    except ValueError:
        port = 0
    return f"{host}:{port}"


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    probe_since: float | None = None


class CircuitBreaker:
    """Thread-safe; one per notifier."""

    def __init__(
        self,
        *,
        failures: int = 3,
        open_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or open_seconds <= 0:
            raise ValueError("a circuit needs failures >= 1 and open_seconds > 0")
        self.failures = failures
        self.open_seconds = open_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def now(self) -> float:
        return self._clock()

    def wait(self, key: str) -> float | None:
        """None: send to `key` now (closed, or this send is the probe). Otherwise the
        seconds after which to try again; the caller must not send."""
        now = self._clock()
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.opened_at is None:
                return None
            reopens = circuit.opened_at + self.open_seconds
            if now < reopens:
                return reopens - now
            # A probe whose outcome never came back does not block the circuit forever.
            if circuit.probe_since is not None and now < circuit.probe_since + self.open_seconds:
                return max(self.open_seconds / 4, 0.1)
            circuit.probe_since = now
            return None

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._circuits.pop(key, None)

    def failed(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            circuit.failures += 1
            if circuit.probe_since is not None or circuit.failures >= self.failures:
                circuit.opened_at = now
                circuit.probe_since = None

    def is_open(self, key: str) -> bool:
        with self._lock:
            circuit = self._circuits.get(key)
            return circuit is not None and circuit.opened_at is not None


def guarded(
    breaker: CircuitBreaker | None, key: str, send: Callable[[], T], *, slow_after: float
) -> T:
    """`send()` unless `key`'s circuit is open (then Deferred, nothing sent). Whatever
    the outcome, the send counts against `key` as slow when it took `slow_after`
    seconds or more, and as prompt otherwise."""
    if breaker is None:
        return send()
    wait = breaker.wait(key)
    if wait is not None:
        raise Deferred(
            f"circuit open for {key}: not sent, next try in {wait:.1f} s", retry_after=wait
        )
    started = breaker.now()
    try:
        return send()
    finally:
        if breaker.now() - started >= slow_after:
            breaker.failed(key)
        else:
            breaker.succeeded(key)
