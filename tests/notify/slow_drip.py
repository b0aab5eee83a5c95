"""A receiver that answers at once and then trickles: the attack a per-read timeout
cannot stop. A real HTTP server on 127.0.0.1, one thread per connection.

Each request is read in full and recorded; then the server writes `head` at once and
`drip` one byte every `interval` seconds, until the drip runs out or the sender hangs
up. `head` is a status line and, for a drip in the body, complete headers too; for a
drip in the headers, it stops half-way through them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADERS_DRIP = (b"HTTP/1.1 201 Created\r\n", b"X-Drip: " + b"." * 200 + b"\r\n\r\n")
BODY_DRIP = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
    b"{" + b" " * 198 + b"}",
)


@dataclass(frozen=True)
class Dripped:
    path: str
    headers: Headers
    body: bytes
    at: float  # time.monotonic() on arrival


Answer = Callable[[Dripped], tuple[bytes, bytes]]


class DripServer:
    def __init__(self, *, interval: float = 0.3, answer: Answer = lambda _: HEADERS_DRIP) -> None:
        self.interval = interval
        self.answer = answer
        self.requests: list[Dripped] = []
        # Per message (Topic, else Idempotency-Key): the most requests for it at once.
        self.in_flight: dict[str, int] = {}
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DripServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        request = Dripped(
            handler.path, handler.headers, handler.rfile.read(length), time.monotonic()
        )
        key = str(handler.headers.get("Topic") or handler.headers.get("Idempotency-Key"))
        with self._lock:
            self.requests.append(request)
            self.in_flight[key] = self.in_flight.get(key, 0) + 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight[key])
        try:
            head, drip = self.answer(request)
            handler.wfile.write(head)
            handler.wfile.flush()
            for i in range(len(drip)):
                time.sleep(self.interval)
                handler.wfile.write(drip[i : i + 1])
                handler.wfile.flush()
        except OSError:
            pass  # the sender gave up: what a deadline is for
        finally:
            with self._lock:
                self.in_flight[key] -= 1
            handler.close_connection = True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.append(self.connection)

            def do_POST(self) -> None:
                server._serve(self)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        return Handler
