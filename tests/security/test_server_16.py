"""What gunicorn answers and logs itself (issue 16): JSON errors in the API's shape, and
no secret query parameter in its access or error log. Against a real `medtrack serve`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from service.server import REDACTED, scrub
from tests.security.world import ERROR_KEYS

BIN = Path(sys.executable).parent
SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig"


@dataclass
class Server:
    port: int
    log: Path

    def raw(self, request: bytes) -> tuple[int, dict[str, str], bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            conn.sendall(request)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        return int(status_line.split()[1]), headers, body


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("server")
    port, log = _free_port(), tmp / "server.log"
    env = {
        **os.environ,
        "MEDTRACK_DATABASE_URL": f"sqlite:///{tmp / 'medtrack.sqlite'}",
        "MEDTRACK_WORKERS": "1",
        "MEDTRACK_THREADS": "2",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [str(BIN / "medtrack"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=2):
                    break
            except OSError:  # refused, reset or timed out while it starts
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.2)
        yield Server(port=port, log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Content-Type-Options"] == "nosniff"
    error = json.loads(body)
    assert set(error) == ERROR_KEYS
    assert error["code"] == expected
    assert error["message"]


def test_a_uri_too_long_is_a_json_414(server: Server) -> None:
    request = b"GET /v1/" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    _assert_json_error(*server.raw(request), expected=414)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /livez HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost: x\r\nBad Name: value\r\n\r\n",
        b"BR0KEN\r\n\r\n",
    ],
    ids=["header-without-colon", "space-in-header-name", "bad-request-line"],
)
def test_a_malformed_request_is_a_json_400(server: Server, request_bytes: bytes) -> None:
    _assert_json_error(*server.raw(request_bytes), expected=400)


def test_secret_query_parameters_stay_out_of_the_logs(server: Server) -> None:
    for query in (
        f"access_token={SECRET}",
        f"x=1&Access%5FToken={SECRET}",
        f"refresh_token={SECRET}&y=2",
    ):
        server.raw(f"GET /livez?{query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    # The error log too: a request line gunicorn refuses is quoted there.
    server.raw(f"GET /livez?access_token={SECRET} HTTP/1.1 x\r\n\r\n".encode())
    time.sleep(0.5)
    logged = server.log.read_text()
    assert "GET /livez?x=1&Access%5FToken=" in logged
    assert SECRET not in logged
    assert REDACTED in logged


def test_scrubbing_keeps_everything_else() -> None:
    line = '"GET /v1/drugs?q=diazepam&token=abc;key=k HTTP/1.1" 200 "https://x/?code=1"'
    assert scrub(line) == (
        f'"GET /v1/drugs?q=diazepam&token={REDACTED};key={REDACTED} HTTP/1.1" 200 '
        f'"https://x/?code={REDACTED}"'
    )


@pytest.mark.parametrize(
    ("line", "scrubbed"),
    [
        ("GET /v1/me?x=1?access_token=SECRET", f"GET /v1/me?x=1?access_token={REDACTED}"),
        ("access_token=SECRET&x=1", f"access_token={REDACTED}&x=1"),
        ("q=1&Refresh_Token=SECRET", f"q=1&Refresh_Token={REDACTED}"),
    ],
    ids=["second-question-mark", "bare-query-string", "later-in-a-bare-query"],
)
def test_a_secret_is_scrubbed_wherever_the_query_starts(line: str, scrubbed: str) -> None:
    assert scrub(line) == scrubbed
