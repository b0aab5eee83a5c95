"""The changes feed as the app sees it (GET /v1/me/changes)."""

from __future__ import annotations

from marshmallow import fields, validate

from service.web.schemas.common import MAX_PAGE, StrictSchema


class ChangesQuery(StrictSchema):
    since = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=500),
        metadata={
            "description": "The `next_cursor` of the last answer; without it, from the start."
        },
    )
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": f"Audited changes read per page (at most {MAX_PAGE})."},
    )


class ChangeSchema(StrictSchema):
    type = fields.String(
        required=True, validate=validate.OneOf(["prescription", "dose", "taper_plan", "finding"])
    )
    id = fields.String(required=True, metadata={"description": "The entity's id in its views."})
    op = fields.String(
        required=True,
        validate=validate.OneOf(["upsert", "remove"]),
        metadata={
            "description": "`upsert`: read it again; `remove`: a finding no longer in force."
        },
    )
    changed_at = fields.AwareDateTime(required=True)


class ChangesPageSchema(StrictSchema):
    changes = fields.List(fields.Nested(ChangeSchema), required=True)
    next_cursor = fields.String(
        required=True, metadata={"description": "Send it as `since` next time (also when empty)."}
    )
    has_more = fields.Boolean(
        required=True, metadata={"description": "More changes follow: ask again at once."}
    )
