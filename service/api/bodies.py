"""Every JSON body is read once, before any view or parser, and refused whole when it
cannot be read or stored.

webargs catches only `json.JSONDecodeError`; Python's decoder also raises a plain
`ValueError` for an integer of more than `sys.get_int_max_str_digits()` digits (4,300,
CVE-2020-10735) and `RecursionError` for deep nesting, which would otherwise end as a
500. Text with a NUL character or an unpaired surrogate (`"\\u0000"`, `"\\ud800"`)
decodes, but PostgreSQL refuses to store it: it is refused here with its field path.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from flask import request
from werkzeug.exceptions import BadRequest, UnprocessableEntity

_UNSTORABLE = "Text may not contain NUL characters (U+0000) or unpaired surrogates."


def _refuse(message: str) -> NoReturn:
    error = BadRequest(description=message)
    # The shape flask-smorest gives its own parsing errors, which
    # errors.handle_http_exception turns into field paths.
    setattr(error, "data", {"message": message, "messages": {"json": {"body": [message]}}})  # noqa: B010
    raise error


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        _refuse(f"The body is not UTF-8: byte {exc.start} cannot be decoded.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _refuse(
            f"The body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
        )
    except RecursionError:
        _refuse("The JSON body is nested too deeply.")
    except ValueError:
        # The only other ValueError json.loads raises: int() beyond the digit limit.
        limit = sys.get_int_max_str_digits()
        _refuse(f"A number in the body has more than {limit} digits.")


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable_paths(value: Any) -> list[str]:
    """The dotted paths of the keys and strings that cannot be stored, in body order."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if not _storable(item):
                found.append(path or "body")
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                here = f"{path}.{key}" if path else key
                if not _storable(key):
                    found.append(path or "body")
                stack.append((here, child))
        elif isinstance(item, list):
            stack.extend(
                (f"{path}.{i}" if path else str(i), c) for i, c in reversed(list(enumerate(item)))
            )
    return found


def check_json_body() -> None:
    """Refuse a JSON body that cannot be decoded (400) or stored (422)."""
    if not request.is_json:
        return
    raw = request.get_data(cache=True)
    if not raw:
        return
    paths = _unstorable_paths(_decode(raw))
    if paths:
        error = UnprocessableEntity(description="Some fields are not valid; see errors.")
        messages = {"json": {path: [_UNSTORABLE] for path in paths}}
        setattr(error, "data", {"message": error.description, "messages": messages})  # noqa: B010
        raise error
