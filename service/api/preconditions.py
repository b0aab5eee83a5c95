"""Optimistic concurrency for versioned resources: `ETag` and `If-Match` (RFC 9110).

A prescription's entity tag is its version number, quoted (`"3"`). A change sent
with `If-Match` applies only if the prescription is still at one of the listed
versions, else 412; without the header it applies to whatever is current.
`If-Match` is compared strongly: weak tags (`W/"3"`) never match.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request

# Strong comparison is exact: "01" is not version 1.
_TAG = re.compile(r'"(0|[1-9]\d{0,8})"')

IF_MATCH: dict[str, Any] = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": 'The `ETag` of the version the change is based on (`"3"`), or `*`. '
    "A stale version gets 412 and changes nothing.",
    "schema": {"type": "string", "maxLength": 200},
}

ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": 'The current version, for `If-Match` (`"3"`).',
        "schema": {"type": "string"},
    }
}


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def if_match() -> frozenset[int] | None:
    """The versions `If-Match` allows; None when any version does (no or an empty
    header, `*`)."""
    raw = (request.headers.get("If-Match") or "").strip()
    if raw in ("", "*"):
        return None
    return frozenset(
        int(m.group(1)) for part in raw.split(",") if (m := _TAG.fullmatch(part.strip()))
    )
