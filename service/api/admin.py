"""Operations views for administrators: deliveries, never what they were about."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.usecases import outbox_view
from service.usecases.outbox_view import OperationalMessage, OutboxSummary
from service.web.schemas.outbox import OperationalMessageSchema, OutboxQuery, OutboxSummarySchema

blp = Blueprint("admin", __name__, url_prefix="/v1/admin", description="Operations (admin)")


@blp.route("/notifications")
class Notifications(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_outbox_messages")
    @query_args(blp, OutboxQuery)
    @list_response(blp, OperationalMessageSchema, example=examples.response("list_outbox_messages"))
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

    @blp.doc(operationId="summarise_outbox")
    @blp.response(200, OutboxSummarySchema, example=examples.response("summarise_outbox"))
    @errors(blp, 401, 403)
    def get(self) -> OutboxSummary:
        """Counts by state, how long due messages wait, lapsed claims, and retries and
        dead letters by error class; the read is audited."""
        c = ctx()
        return outbox_view.summarise(**c.args(), notifier=c.settings.notifier)


@blp.route("/notifications/<string:ref>")
class Notification(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_outbox_message")
    @blp.response(200, OperationalMessageSchema, example=examples.response("get_outbox_message"))
    @errors(blp, 401, 403, 404)
    def get(self, ref: str) -> OperationalMessage:
        """One message's delivery, by its reference; the read is audited."""
        c = ctx()
        return outbox_view.find_operational(**c.args(), refs=c.refs, ref=ref)
