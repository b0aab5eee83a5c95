"""Between HTML forms and the schemas the JSON API uses (service.web.schemas): a form
is turned into the body the API would receive, so both meet the same checks, and
the checks' messages come back by the same field paths (`dose.amount`)."""

from __future__ import annotations

from marshmallow import ValidationError

from service.web.messages import flatten


def field_errors(error: ValidationError) -> dict[str, list[str]]:
    return flatten(error.messages)
