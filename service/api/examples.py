"""The examples in the OpenAPI description, from examples.yaml by operationId.

Each view passes its own to flask-smorest (`example=` on `blp.arguments` and
`blp.response`), so a generated client's documentation and Swagger UI show a real
exchange; tests/api/test_openapi_examples.py holds every one to its schemas.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SOURCE = Path(__file__).with_name("examples.yaml")


@cache
def _all() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    return loaded


def request(operation_id: str) -> Any:
    """The example body sent to the operation."""
    return copy.deepcopy(_all()[operation_id]["request"])


def response(operation_id: str) -> Any:
    """The example body the operation answers with (its 2xx status)."""
    return copy.deepcopy(_all()[operation_id]["response"])
