"""Gunicorn, embedded: `medtrack serve` runs the app factory under it."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from service.config import Settings


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


def run(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "timeout": 30,
        "graceful_timeout": 30,
        # The API sits behind a reverse proxy in production; gunicorn only
        # trusts forwarding headers from the local one.
        "forwarded_allow_ips": "127.0.0.1",
    }
    _Gunicorn(settings, options).run()
