"""A total deadline for each HTTP send: connecting, writing, and reading the whole answer.

The timeouts of requests and urllib3 apply to each socket operation: a receiver that
answers "200" and then sends one byte every few seconds never lets one read time out,
and holds the sender for as long as it likes. Here a send runs inside `deadline(s)`;
every socket a `DeadlineAdapter` opens or reuses within that block is registered, and
one watchdog thread shuts those sockets down when the deadline passes, so the blocked
read fails at once whatever the receiver trickles. The connect timeout is cut to the
time left, and TLS handshakes run on a registered socket too. Name resolution is not
bounded: it is the system resolver's, not the receiver's.

Deadlines nest: an inner block never outlives an outer one, so the dispatcher can say
"this message must be done by the end of the batch" around an adapter that says "each
request at most 5 s".
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection


@dataclass(eq=False)
class Budget:
    """One deadline block: when it ends (time.monotonic), and the sockets it covers."""

    at: float
    seconds: float
    expired: bool = False
    done: bool = False
    sockets: list[socket.socket] = field(default_factory=list)

    def left(self) -> float:
        return self.at - time.monotonic()


class DeadlineExceeded(requests.exceptions.Timeout):
    """The request was not finished when its deadline passed."""


_local = threading.local()


def _stack() -> list[Budget]:
    stack: list[Budget] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def current() -> Budget | None:
    """The innermost deadline of this thread, if any."""
    stack = _stack()
    return stack[-1] if stack else None


class _Watchdog:
    """One thread for the whole process: shuts down the sockets of expired budgets."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Budget]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, budget: Budget) -> None:
        with self._lock:
            heapq.heappush(self._heap, (budget.at, next(self._order), budget))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="medtrack-send-deadlines", daemon=True
                )
                self._thread.start()
            self._lock.notify()

    def attach(self, budget: Budget, sock: socket.socket) -> None:
        with self._lock:
            budget.sockets.append(sock)
            if budget.expired:
                _cut(sock)

    def finish(self, budget: Budget) -> None:
        with self._lock:
            budget.done = True
            budget.sockets.clear()
            self._lock.notify()

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    # Nothing to watch: the thread ends, and the next deadline starts one.
                    self._thread = None
                    return
                wait = self._heap[0][0] - time.monotonic()
                if wait <= 0:
                    _, _, budget = heapq.heappop(self._heap)
                    budget.expired = True
                    for sock in budget.sockets:
                        _cut(sock)
                    continue
                self._lock.wait(timeout=wait)


def _cut(sock: socket.socket) -> None:
    # The plain socket's shutdown, even for a TLS socket: ssl.SSLSocket.shutdown would
    # tear down its SSL object under the thread that is reading from it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[Budget]:
    """Within the block, requests through a DeadlineAdapter end by `seconds` from now
    (or the enclosing deadline, if sooner). Check `budget.expired` after a failure: a
    cut connection surfaces as whatever error the library makes of it."""
    stack = _stack()
    at = time.monotonic() + seconds
    if stack:
        at = min(at, stack[-1].at)
    budget = Budget(at=at, seconds=seconds)
    _WATCHDOG.watch(budget)
    stack.append(budget)
    try:
        yield budget
    finally:
        stack.pop()
        _WATCHDOG.finish(budget)


def _attach(sock: socket.socket | None) -> None:
    budget = current()
    if budget is not None and sock is not None:
        _WATCHDOG.attach(budget, sock)


class _DeadlineHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self.sock)  # a kept-alive connection: its socket is already open
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _attach(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self.sock)
        super().request(*args, **kwargs)


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose requests honour the calling thread's `deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _DeadlineHTTPPool,
            "https": _DeadlineHTTPSPool,
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        budget = current()
        if budget is not None:
            left = budget.left()
            if left <= 0 or budget.expired:
                raise DeadlineExceeded(f"no time left of the {budget.seconds:g} s deadline")
            timeout = _capped(timeout, left)
        try:
            response = super().send(request, stream, timeout, verify, cert, proxies)
        except requests.RequestException as exc:
            if budget is not None and budget.expired:
                raise DeadlineExceeded(f"not answered within {budget.seconds:g} s") from exc
            raise
        if budget is not None and budget.expired:
            # Cut in the middle of the headers, http.client returns what it had read as
            # if the headers had ended: a status that was never really given.
            response.close()
            raise DeadlineExceeded(f"headers not received within {budget.seconds:g} s")
        return response


def _capped(
    timeout: float | tuple[float | None, float | None] | None, left: float
) -> tuple[float, float]:
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (min(left, connect or left), min(left, read or left))


def mount(session: requests.Session, **adapter: Any) -> requests.Session:
    """Route the session's http and https requests through a DeadlineAdapter."""
    for prefix in ("http://", "https://"):
        session.mount(prefix, DeadlineAdapter(**adapter))
    return session
