"""Operations views for administrators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import caller, require_auth, uow
from service.api.docs import AUTH, errors
from service.api.schemas.doses import NotificationQuery, NotificationSchema
from service.db.tables import Notification
from service.usecases import dispatch

blp = Blueprint("admin", __name__, url_prefix="/v1/admin", description="Operations (admin)")


@blp.route("/notifications")
class Notifications(MethodView):
    decorators = [require_auth]

    @blp.arguments(NotificationQuery, location="query")
    @blp.response(200, NotificationSchema(many=True))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[Notification]:
        """The outbox, newest first; `status=failed` lists the dead letters (messages
        given up after the retry limit or refused by the receiver)."""
        return dispatch.list_messages(
            uow=uow(),
            caller=caller(),
            status=query.get("status"),
            limit=query["limit"],
            offset=query["offset"],
        )
