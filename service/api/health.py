"""Liveness and database reachability."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields
from sqlalchemy.exc import SQLAlchemyError

from service.api.context import uow
from service.api.docs import PUBLIC, errors
from service.api.schemas.common import StrictSchema

blp = Blueprint("health", __name__, description="Health")


class HealthSchema(StrictSchema):
    status = fields.String(required=True, metadata={"example": "ok"})
    database = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, HealthSchema)
    @errors(blp, 503)
    def get(self) -> dict[str, Any]:
        """200 when the service can reach its database, 503 otherwise."""
        try:
            with uow() as u:
                u.ping()
        except SQLAlchemyError:
            abort(503, message="The database is unreachable.")
        return {"status": "ok", "database": "ok"}
