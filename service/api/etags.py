"""Conditional GETs: a strong ETag over the exact JSON answered, and 304 to an
If-None-Match that names it (RFC 9110 13.1.2: weak comparison, `W/` tags and lists
of tags match, `*` matches)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, jsonify, request

# The request header of a conditional GET, for the operations that answer 304.
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the answer the client has (or a list of them): 304 if it "
    "still holds.",
}


def conditional_json(body: Any) -> Response:
    """`body` as JSON with its ETag; 304 without a body when the client has it."""
    response = jsonify(body)
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    # make_conditional turns it into a 304 (body and entity headers dropped) when
    # If-None-Match matches; the read was done, and audited, either way.
    response.make_conditional(request)
    return response
