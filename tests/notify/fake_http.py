"""A real HTTP receiver on 127.0.0.1 for adapter tests: records requests, answers by script.

Adapters are tested against real sockets, not mocked HTTP libraries, so headers, bodies,
timeouts and connection failures are what the wire would show. The server itself is the
one the benchmarks and the fault tests use (bench/receiver.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler

from bench.receiver import LocalServer, answer, free_port, read_body


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


Responder = Callable[[Recorded], Reply]


class FakeServer(LocalServer):
    def __init__(self, respond: Responder) -> None:
        super().__init__()
        self.respond = respond
        self.requests: list[Recorded] = []

    @property
    def url(self) -> str:
        return self.base_url

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body, _ = read_body(request)
        recorded = Recorded("POST", request.path, request.headers, body)
        self.requests.append(recorded)
        reply = self.respond(recorded)
        if reply.delay_seconds:
            time.sleep(reply.delay_seconds)
        answer(request, reply.status, reply.body, reply.headers)


def closed_port_url() -> str:
    """A URL on a loopback port nobody listens on: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


Serve = Callable[[Responder], FakeServer]
