"""A real HTTP receiver on 127.0.0.1 for adapter tests: records requests, answers by script.

Adapters are tested against real sockets, not mocked HTTP libraries, so headers, bodies,
timeouts and connection failures are what the wire would show.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message as Headers
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


class FakeServer:
    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[Recorded] = []
        self.connections: list[socket.socket] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and cut kept-alive connections, so no handler thread lingers."""
        self._server.shutdown()
        self._server.server_close()
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            server.connections.append(self.connection)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded("POST", self.path, self.headers, self.rfile.read(length))
            server.requests.append(recorded)
            reply = server.respond(recorded)
            if reply.delay_seconds:
                time.sleep(reply.delay_seconds)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except OSError:
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

    return Handler


def closed_port_url() -> str:
    """A URL on a loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


Serve = Callable[[Responder], FakeServer]
