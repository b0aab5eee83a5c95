"""Interaction checks and the drug catalog, for clinician apps."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.usecases import drugs, interactions
from service.usecases.screening import suggestion_json
from service.web.schemas.interactions import (
    CheckRequestSchema,
    CheckResponseSchema,
    DrugQuery,
    DrugSchema,
    DrugSummarySchema,
)

blp = Blueprint(
    "interactions", __name__, url_prefix="/v1", description="Drug catalog and interaction checks"
)


@blp.route("/interactions/check")
class Check(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="check_interactions")
    @blp.arguments(CheckRequestSchema, example=examples.request("check_interactions"))
    @blp.response(200, CheckResponseSchema, example=examples.response("check_interactions"))
    @errors(blp, *AUTH, 403, 404)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check drugs against each other and, with `patient_id`, the patient's record.

        Names that do not resolve are listed under `unresolved`, with suggestions.
        """
        c = ctx()
        result = interactions.check_interactions(
            **c.args(),
            kb=c.kb,
            drugs=body["drugs"],
            patient_id=body["patient_id"],
        )
        return {
            "findings": list(result.shown),
            "resolved": [
                {
                    "input": r.input,
                    "drug_id": r.entry_id,
                    "name": r.name,
                    "ingredients": list(r.ingredients),
                    "in_catalog": r.in_catalog,
                }
                for r in result.resolved
            ],
            "unresolved": [
                {"input": u.input, "suggestions": [suggestion_json(s) for s in u.suggestions]}
                for u in result.unresolved
            ],
            "knowledge_base_version": result.knowledge_base_version,
        }


@blp.route("/drugs")
class Drugs(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="search_drugs")
    @query_args(blp, DrugQuery)
    @list_response(blp, DrugSummarySchema, example=examples.response("search_drugs"))
    @errors(blp, *AUTH)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """Catalog entries whose names start with `q` (autocomplete)."""
        return drugs.search_drugs(kb=ctx().kb, query=query["q"], limit=query["limit"])


@blp.route("/drugs/<string:drug_id>")
class DrugView(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_drug")
    @blp.response(200, DrugSchema, example=examples.response("get_drug"))
    @errors(blp, *AUTH, 404)
    def get(self, drug_id: str) -> dict[str, Any]:
        """A catalog entry: ingredients, classes, formulations, withdrawal risk."""
        c = ctx()
        return drugs.get_drug(uow=c.uow(), kb=c.kb, drug_id=drug_id)
