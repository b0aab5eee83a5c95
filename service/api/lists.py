"""List answers: a JSON array of items, and their total in X-Total-Count.

The body stays an array (what clients already read); the total is a header, counted
by the use case (a COUNT over the same query, not the length of the page). A list
that is not paged (a care team, the doses in a window) is answered whole, so its
length is its total.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from service.domain.pages import Page

TOTAL = "X-Total-Count"
TOTAL_HEADER = {
    TOTAL: {
        "description": "How many items the whole list has (every page, with these filters).",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def _with_total(view: Callable[..., Any], *, paged: bool) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = view(*args, **kwargs)
        if isinstance(result, Response):
            return result
        if isinstance(result, Page):
            total = result.total
        elif paged:
            # A page's length is not the total: a paged use case answers a Page.
            raise TypeError(f"{view.__qualname__} must return a Page")
        else:
            total = len(result)
        return result, {TOTAL: str(total)}

    return wrapper


def list_response(
    blp: Blueprint,
    schema: type[ma.Schema],
    *,
    example: list[Any],
    paged: bool = True,
    status: int = 200,
    **kwargs: Any,
) -> Callable[[Any], Any]:
    """`blp.response(status, schema(many=True))` with X-Total-Count, sent and documented."""

    def decorate(view: Any) -> Any:
        documented = blp.response(
            status, schema(many=True), headers=TOTAL_HEADER, example=example, **kwargs
        )
        return documented(_with_total(view, paged=paged))

    return decorate
