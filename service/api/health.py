"""Probes for process managers and load balancers.

- `/livez`: the process answers (no database); restart it when this fails.
- `/readyz`: the database answers and its schema is the one this release needs;
  send traffic only while this is 200.
- `/healthz`: the database answers (kept for existing monitors).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields
from sqlalchemy.exc import SQLAlchemyError

from service.api.context import uow
from service.api.docs import PUBLIC, errors
from service.api.schemas.common import StrictSchema
from service.db.migrate import current_heads, known_revisions

blp = Blueprint("health", __name__, description="Health")

RETRY = {"Retry-After": "5"}


class LiveSchema(StrictSchema):
    status = fields.String(required=True, metadata={"example": "ok"})


class HealthSchema(LiveSchema):
    database = fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(HealthSchema):
    schema = fields.String(required=True, metadata={"example": "0007"})


@cache
def _heads() -> frozenset[str]:
    return frozenset(current_heads())


@cache
def _known() -> frozenset[str]:
    return known_revisions()


@blp.route("/livez")
class Live(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, LiveSchema)
    def get(self) -> dict[str, Any]:
        """200 while the process serves requests; it does not touch the database."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(**PUBLIC)
    @blp.response(200, ReadySchema)
    @errors(blp, 503)
    def get(self) -> dict[str, Any]:
        """200 when the database answers and is migrated to this release's schema
        (or to a later release's); 503 with Retry-After otherwise."""
        try:
            with uow() as u:
                u.ping()
                revisions = u.schema_revisions()
        except SQLAlchemyError:
            abort(503, message="The database is unreachable.", headers=RETRY)
        # Behind this release (or never migrated): not ready. Ahead of it (a newer
        # release migrated during a rolling deploy): ready, so the old instances keep
        # serving until new ones are up (migrations add before they remove).
        if not revisions or (revisions != _heads() and revisions <= _known()):
            have = ", ".join(sorted(revisions)) or "none"
            abort(
                503,
                message=f"The database schema is at {have}; this release needs "
                f"{', '.join(sorted(_heads()))} (run `medtrack db upgrade`).",
                headers=RETRY,
            )
        return {"status": "ok", "database": "ok", "schema": ", ".join(sorted(revisions))}


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
            abort(503, message="The database is unreachable.", headers=RETRY)
        return {"status": "ok", "database": "ok"}
