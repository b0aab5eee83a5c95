"""medtrack: medication tracking, dose reminders and safe tapering.

`create_app` is imported lazily so that the scheduler process and the domain can
import `service.*` without pulling in Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from service.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI application (app factory); nothing connects at import time."""
    from service.app import build_app

    return build_app(settings)
