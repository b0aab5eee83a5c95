"""Small helpers that keep the OpenAPI description of each view accurate."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from importlib.metadata import version
from typing import Any

from flask_smorest import Blueprint

# One version number, the package's (pyproject.toml): the spec's info.version and /livez.
VERSION = version("medtrack")

PUBLIC: dict[str, Any] = {"security": []}


def errors(blp: Blueprint, *codes: int) -> Callable[[Any], Any]:
    """Document the error statuses a view can answer with (all in the one error shape)."""

    def decorate(view: Any) -> Any:
        for code in codes:
            view = blp.alt_response(code, response=HTTPStatus(code).name)(view)
        return view

    return decorate


# What every authenticated view may answer besides its own errors.
AUTH = (401, 422)
