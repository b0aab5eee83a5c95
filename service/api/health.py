"""Probes for process managers and load balancers.

- `/livez`: the process answers (no database); restart it when this fails.
- `/readyz`: the database answers and its schema is the one this release needs;
  send traffic only while this is 200.
- `/healthz`: the database answers (kept for existing monitors).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import fields

from service.api import examples
from service.api.context import (
    ping_database,
    release_heads,
    release_revisions,
    schema_revisions,
)
from service.api.docs import PUBLIC, VERSION, errors
from service.web.schemas.common import StrictSchema

blp = Blueprint("health", __name__, description="Health")

RETRY = {"Retry-After": "5"}


class StatusSchema(StrictSchema):
    status = fields.String(required=True, metadata={"example": "ok"})


class LiveSchema(StatusSchema):
    version = fields.String(
        required=True, metadata={"description": "The release serving (the package's version)."}
    )


class HealthSchema(StatusSchema):
    database = fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(HealthSchema):
    schema = fields.String(required=True, metadata={"example": "0007"})


@blp.route("/livez")
class Live(MethodView):
    @blp.doc(operationId="check_liveness")
    @blp.doc(**PUBLIC)
    @blp.response(200, LiveSchema, example=examples.response("check_liveness"))
    def get(self) -> dict[str, Any]:
        """200 while the process serves requests; it does not touch the database."""
        return {"status": "ok", "version": VERSION}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(operationId="check_readiness")
    @blp.doc(**PUBLIC)
    @blp.response(200, ReadySchema, example=examples.response("check_readiness"))
    @errors(blp, 503)
    def get(self) -> dict[str, Any]:
        """200 when the database answers and is migrated to this release's schema
        (or to a later release's); 503 with Retry-After otherwise."""
        revisions = schema_revisions()
        # Behind this release (or never migrated): not ready. Ahead of it (a newer
        # release migrated during a rolling deploy): ready, so the old instances keep
        # serving until new ones are up (migrations add before they remove).
        if not revisions or (revisions != release_heads() and revisions <= release_revisions()):
            have = ", ".join(sorted(revisions)) or "none"
            abort(
                503,
                message=f"The database schema is at {have}; this release needs "
                f"{', '.join(sorted(release_heads()))} (run `medtrack db upgrade`).",
                headers=RETRY,
            )
        return {"status": "ok", "database": "ok", "schema": ", ".join(sorted(revisions))}


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(operationId="check_health")
    @blp.doc(**PUBLIC)
    @blp.response(200, HealthSchema, example=examples.response("check_health"))
    @errors(blp, 503)
    def get(self) -> dict[str, Any]:
        """200 when the service can reach its database, 503 otherwise."""
        ping_database()
        return {"status": "ok", "database": "ok"}
