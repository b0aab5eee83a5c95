"""The local HTTP receiver the benchmarks and the tests send notifications to.

`LocalServer` is a real HTTP server on 127.0.0.1 (a free port), one thread per
connection, keep-alive as the notifiers' sessions expect; `stop` also cuts the kept-alive
connections, so no handler thread outlives it. What it answers to a POST is a
subclass's `handle`. `Receiver` is the webhook receiver on top of it: it verifies each
signature and records every delivery with its Idempotency-Key, and can answer slowly
or with an error on demand (`on_request`, `status`). The notifier tests' scripted
server and slow-drip server (tests/notify) are subclasses of `LocalServer` too.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from service.notify.webhook import SIGNATURE_HEADER

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def read_body(request: BaseHTTPRequestHandler) -> tuple[bytes, bool]:
    """The request's body, and whether it arrived whole (a sender killed mid-request
    leaves it short)."""
    length = int(request.headers.get("Content-Length") or 0)
    body = request.rfile.read(length)
    return body, len(body) == length


def answer(
    request: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """Write a whole response; a sender that has gone (killed, or timed out) is not
    an error of the receiver's."""
    try:
        request.send_response(status)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    except OSError:
        pass


class LocalServer(abc.ABC):
    """A threaded HTTP server on 127.0.0.1; subclasses answer POSTs in `handle`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer((HOST, 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut kept-alive connections, so no handler thread lingers."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    @abc.abstractmethod
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one POST."""

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.append(connection)


def _handler_for(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            server._opened(self.connection)

        def do_POST(self) -> None:
            server.handle(self)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


@dataclass(frozen=True)
class Delivery:
    """One POST as the receiver saw it, and what it answered."""

    key: str
    body_key: str
    kind: str
    dose_id: str | None
    answered: int
    at: float  # time.monotonic() on arrival
    signed: bool
    # The doses a reminder covers: a patient's doses due at the same instant go as one.
    dose_ids: tuple[str, ...] = ()


class Receiver(LocalServer):
    """A webhook receiver: verifies each signature (401 when it is wrong), records each
    request with its Idempotency-Key, and answers what `status()` says at that moment.

    `on_request(n)` runs in the handler with the number of requests so far, before the
    answer is written: a caller can act while that request is still in flight, or make
    the receiver slow.
    """

    def __init__(self, *, secret: str) -> None:
        super().__init__()
        self.secret = secret.encode("utf-8")
        self.status: Callable[[], int] = lambda: 200
        self.on_request: Callable[[int], None] | None = None
        self.truncated = 0  # requests cut off mid-body by a killed sender
        self._deliveries: list[Delivery] = []

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/medtrack"

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def accepted(self) -> list[Delivery]:
        return [d for d in self.deliveries() if 200 <= d.answered < 300]

    def accepted_keys(self) -> set[str]:
        return {d.key for d in self.accepted()}

    def count(self) -> int:
        with self._lock:
            return len(self._deliveries)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body, whole = read_body(request)
        if not whole:
            # The sender died mid-request (a killed scheduler sending to several
            # recipients at once): no receiver acts on half a body.
            with self._lock:
                self.truncated += 1
            return
        delivery = self._delivery(request, body)
        with self._lock:
            self._deliveries.append(delivery)
            n = len(self._deliveries)
        if self.on_request is not None:
            self.on_request(n)
        answer(request, delivery.answered)

    def _delivery(self, request: BaseHTTPRequestHandler, body: bytes) -> Delivery:
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(str(request.headers.get(SIGNATURE_HEADER, "")), expected)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        return Delivery(
            key=str(request.headers.get("Idempotency-Key", "")),
            body_key=str(payload.get("idempotency_key", "")),
            kind=str(payload.get("kind", "")),
            dose_id=(payload.get("data") or {}).get("dose_id"),
            dose_ids=tuple(str(i) for i in (payload.get("data") or {}).get("dose_ids") or ()),
            answered=self.status() if signed else 401,
            at=time.monotonic(),
            signed=signed,
        )
