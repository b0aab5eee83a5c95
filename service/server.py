"""Gunicorn, embedded: `medtrack serve` runs the app factory under it.

What gunicorn answers and logs itself, before the application sees a request, keeps
the API's rules: errors in the API's JSON shape (a request line over 4094 bytes, a
malformed header), and no secret from a query string in a log line.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

from service.api.errors import error_body
from service.config import Settings
from service.db.logs import FORMAT, configure_logging, redacted_url

# The API process's own lines (its requests are in the access log).
log = logging.getLogger("medtrack.api")

# Query parameters that carry a credential. The API reads tokens only from the
# Authorization header, but a client may still send one in a URL.
SECRET_PARAMETERS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "activation_code",
        "code",
        "password",
        "secret",
        "api_key",
        "apikey",
        "key",
        "auth",
        "signature",
        "sig",
    }
)
REDACTED = "[redacted]"
# A parameter starts the text (a bare query string, `%(q)s`) or follows a separator;
# a value ends at the next separator, a second `?` included (`?x=1?access_token=`).
_PARAMETER = re.compile(r"(?P<lead>^|[?&;\s\"'])(?P<name>[^=&;?\s\"']+)=(?P<value>[^&;?\s\"']*)")


def scrub(text: str) -> str:
    """`text` with the value of every secret query parameter replaced, names compared
    after percent-decoding and ignoring case (`Access%5FToken=` too)."""

    def one(m: re.Match[str]) -> str:
        if unquote_plus(m["name"]).lower() not in SECRET_PARAMETERS:
            return m[0]
        return f"{m['lead']}{m['name']}={REDACTED}"

    return _PARAMETER.sub(one, text)


class ScrubSecrets(logging.Filter):
    """Formats the record and scrubs it, so that every atom (`%(r)s`, `%(q)s`,
    `%(U)s`, a Referer) and every error message is covered by one rule."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class ScrubbedLogger(Logger):  # type: ignore[misc]
    """Gunicorn's logger with secret query parameters scrubbed from both logs, its
    error log in the shape of the application's lines.

    Gunicorn tells at INFO how it starts and stops (its version, each worker booted,
    its control socket): at INFO those lines give way to the one line `when_ready`
    writes, and show at DEBUG."""

    error_fmt = FORMAT
    datefmt = None

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if self.loglevel == logging.INFO:
            self.error_log.setLevel(logging.WARNING)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if not any(isinstance(f, ScrubSecrets) for f in handler.filters):
                    handler.addFilter(ScrubSecrets())


_MESSAGES = {
    400: "The request could not be read: its request line or headers are malformed.",
    403: "The request was refused.",
    414: "The URL is too long.",
    417: "The expectation in the Expect header cannot be met.",
    431: "The request headers are too large.",
    500: "An unexpected error occurred; it has been logged.",
    501: "This transfer coding is not supported.",
}


def json_error(status: int) -> bytes:
    """A complete HTTP/1.1 response with the API's error shape and security headers."""
    known = status if status in _MESSAGES else 400
    body = json.dumps(error_body(known, _MESSAGES[known])).encode()
    head = (
        f"HTTP/1.1 {known} {HTTPStatus(known).phrase}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class _JsonErrors:
    """The client socket as gunicorn's error writer sees it: its HTML page is
    replaced by `json_error` for the same status."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        match = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
        self._sock.sendall(json_error(int(match[1])) if match else data)


class JsonErrorWorker(ThreadWorker):  # type: ignore[misc]
    """gthread worker whose own error answers are JSON in the API's shape."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        super().handle_error(req, _JsonErrors(client), addr, exc)


def serving_line(settings: Settings, *, urls: list[str], workers: int, threads: int) -> str:
    """What the API process says once it listens: where, what, how, and on which
    database (without its password)."""
    return (
        f"serving {', '.join(urls)} (API /v1/, console /console/, FHIR /fhir/R4, "
        "CDS Hooks /cds-services, docs /docs) "
        f"with gunicorn, {workers} workers x {threads} threads, "
        f"on {redacted_url(settings.database_url)}"
    )


def _announce(settings: Settings) -> Callable[[Any], None]:
    """Gunicorn's `when_ready` hook: the master, once its sockets listen, logs the
    serving line and the settings' warnings, once for the whole server (each worker
    builds its own app, so the app factory is no place for them)."""

    def when_ready(server: Any) -> None:
        urls = [str(listener) for listener in server.LISTENERS]
        log.info(
            serving_line(
                settings, urls=urls, workers=server.cfg.workers, threads=server.cfg.threads
            )
        )
        for warning in settings.warnings():
            log.warning(warning)

    return when_ready


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service import create_app

        return create_app(self._settings)


def options(
    settings: Settings, *, host: str, port: int, workers: int, threads: int
) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": f"{__name__}.JsonErrorWorker",
        "logger_class": f"{__name__}.ScrubbedLogger",
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "timeout": 30,
        "graceful_timeout": 30,
        # The API sits behind a reverse proxy in production; gunicorn only
        # trusts forwarding headers from the local one.
        "forwarded_allow_ips": "127.0.0.1",
        "when_ready": _announce(settings),
    }


def run(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    # The master logs too (the serving line); its workers inherit the handler.
    configure_logging(settings.log_level)
    _Gunicorn(
        settings, options(settings, host=host, port=port, workers=workers, threads=threads)
    ).run()
