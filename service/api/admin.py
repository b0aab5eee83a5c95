"""Operations views for administrators: deliveries, never what they were about."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.usecases import outbox_view
from service.usecases.outbox_view import OperationalMessage, OutboxSummary
from service.web.schemas.outbox import OperationalMessageSchema, OutboxQuery, OutboxSummarySchema

blp = Blueprint("admin", __name__, url_prefix="/v1/admin", description="Operations (admin)")


@blp.route("/notifications")
class Notifications(MethodView):
    decorators = [require_auth]

    @blp.arguments(OutboxQuery, location="query")
    @blp.response(200, OperationalMessageSchema(many=True))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[OperationalMessage]:
        """The outbox, newest first; `status=failed` lists the dead letters (messages
        given up after the retry limit or refused by the receiver). Each message is
        shown by its delivery only, under a pseudonymous reference; the read is audited."""
        c = ctx()
        return outbox_view.list_operational(
            **c.args(),
            refs=c.refs,
            status=query.get("status"),
            limit=query["limit"],
            offset=query["offset"],
        )


@blp.route("/notifications/summary")
class NotificationSummary(MethodView):
    decorators = [require_auth]

    @blp.response(200, OutboxSummarySchema)
    @errors(blp, 401, 403)
    def get(self) -> OutboxSummary:
        """Counts by state, how long due messages wait, lapsed claims, and retries and
        dead letters by error class; the read is audited."""
        c = ctx()
        return outbox_view.summarise(**c.args(), notifier=c.settings.notifier)


@blp.route("/notifications/<string:ref>")
class Notification(MethodView):
    decorators = [require_auth]

    @blp.response(200, OperationalMessageSchema)
    @errors(blp, 401, 403, 404)
    def get(self, ref: str) -> OperationalMessage:
        """One message's delivery, by its reference; the read is audited."""
        c = ctx()
        return outbox_view.find_operational(**c.args(), refs=c.refs, ref=ref)
