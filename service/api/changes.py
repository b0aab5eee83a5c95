"""What changed in the signed-in patient's record since the app last synced."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.usecases import changes
from service.web.schemas.changes import ChangesPageSchema, ChangesQuery

blp = Blueprint("changes", __name__, url_prefix="/v1/me", description="Sync after being offline")

PAGE_EXAMPLE = {
    "changes": [
        {
            "type": "dose",
            "id": "0b7f7c4e-3a55-4d8c-9a57-1f4b1f0c2d11",
            "op": "upsert",
            "changed_at": "2026-12-05T08:03:12+00:00",
        },
        {
            "type": "prescription",
            "id": "5d2e9c1a-8f3b-4e6a-b1d7-2c9a0e4f6b83",
            "op": "upsert",
            "changed_at": "2026-12-05T09:30:00+00:00",
        },
    ],
    "next_cursor": "eyJwIjoiLi4uIiwicyI6NDR9c2lnbmF0dXJl",
    "has_more": False,
}


@blp.route("/changes")
class Changes(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_changes")
    @blp.arguments(ChangesQuery, location="query")
    @blp.response(200, ChangesPageSchema, example=PAGE_EXAMPLE)
    @errors(blp, *AUTH, 400, 403)
    def get(self, query: dict[str, Any]) -> changes.ChangesPage:
        """What changed in the patient's prescriptions, doses, taper plans and findings
        after `since`, oldest first, and the cursor to send next time.

        Each change names the entity and `op` (`upsert`: read it again; `remove`: a
        finding no longer in force). A cursor that was altered, or is another
        patient's, is 400 (`query.since`)."""
        c = ctx()
        try:
            return changes.list_changes(
                **c.args(),
                cursors=changes.Cursors(c.settings.secret_key),
                since=query["since"],
                limit=query["limit"],
            )
        except changes.BadCursor as error:
            # Not a field with a wrong value (422) but a token that was never ours: 400.
            abort(
                400,
                message=error.message,
                messages={"query": {"since": error.errors[changes.FIELD]}},
            )
            raise
