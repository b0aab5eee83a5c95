"""Query parameters: parsed by their schema, and named `query.<name>` in every error
about them (README, "Conventions"), whether the schema or a use case finds it.

A use case knows nothing of HTTP and keys its errors by the names it was given
(`to`); a view whose parameters come from the query string says so here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from service.usecases.errors import ValidationFailed

PREFIX = "query."


def parameter_names(schema: type[ma.Schema] | ma.Schema) -> frozenset[str]:
    """The names the parameters have in the query string."""
    instance = schema() if isinstance(schema, type) else schema
    return frozenset(f.data_key or name for name, f in instance.fields.items())


def in_query(names: frozenset[str], view: Callable[..., Any]) -> Callable[..., Any]:
    """The view, with a use case's errors about `names` keyed as query parameters."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ValidationFailed as exc:
            exc.errors = {
                (PREFIX + key if key in names else key): messages
                for key, messages in exc.errors.items()
            }
            raise

    return wrapper


def query_args(blp: Blueprint, schema: type[ma.Schema], **kwargs: Any) -> Callable[[Any], Any]:
    """`blp.arguments(schema, location="query")`, with errors named `query.<name>`."""
    names = parameter_names(schema)

    def decorate(view: Any) -> Any:
        return blp.arguments(schema, location="query", **kwargs)(in_query(names, view))

    return decorate
