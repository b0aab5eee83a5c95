"""marshmallow's nested messages as field paths, the one shape both entrypoints show."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nested messages -> {"a.b.0": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            name = "" if key == "_schema" else str(key)
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            for k, v in flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(messages, list | tuple) and all(isinstance(m, str) for m in messages):
        out[prefix] = [str(m) for m in messages]
    elif isinstance(messages, list | tuple):
        for m in messages:
            for k, v in flatten(m, prefix).items():
                out.setdefault(k, []).extend(v)
    else:
        out[prefix] = [str(messages)]
    return out
