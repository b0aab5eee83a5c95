"""A receiver that answers at once and then trickles: the attack a per-read timeout
cannot stop. A real HTTP server on 127.0.0.1, one thread per connection (the
benchmarks' and the fault tests' server, bench/receiver.py).

Each request is read in full and recorded; then the server writes `head` at once and
`drip` one byte every `interval` seconds, until the drip runs out or the sender hangs
up. `head` is a status line and, for a drip in the body, complete headers too; for a
drip in the headers, it stops half-way through them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler

from bench.receiver import LocalServer, read_body

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


class DripServer(LocalServer):
    def __init__(self, *, interval: float = 0.3, answer: Answer = lambda _: HEADERS_DRIP) -> None:
        super().__init__()
        self.interval = interval
        self.answer = answer
        self.requests: list[Dripped] = []
        # Per message (Topic, else Idempotency-Key): the most requests for it at once.
        self.in_flight: dict[str, int] = {}
        self.most_in_flight = 0

    @property
    def url(self) -> str:
        return self.base_url

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body, _ = read_body(handler)
        request = Dripped(handler.path, handler.headers, body, time.monotonic())
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
