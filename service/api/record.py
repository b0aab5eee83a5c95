"""The patient's conditions, the products they report taking, and the current
findings of the screening of their whole record."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.usecases import record
from service.usecases.record import ConditionView, FindingView, ProductView
from service.web.schemas.common import PageQuery
from service.web.schemas.interactions import UnresolvedDrugSchema
from service.web.schemas.record import (
    AcknowledgeSchema,
    ConditionCreateSchema,
    ConditionSchema,
    EndSchema,
    PatientFindingSchema,
    ProductCreateSchema,
    ProductSchema,
)

blp = Blueprint(
    "record",
    __name__,
    url_prefix="/v1/patients/<uuid:patient_id>",
    description="Conditions, reported products and current findings",
)


@blp.route("/conditions")
class Conditions(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_conditions")
    @query_args(blp, PageQuery)
    @list_response(blp, ConditionSchema, example=examples.response("list_conditions"))
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[ConditionView]:
        """The patient's coded conditions in force."""
        return record.list_conditions(
            **ctx().args(),
            patient_id=patient_id,
            limit=query["limit"],
            offset=query["offset"],
        )

    @blp.doc(operationId="add_condition")
    @blp.arguments(ConditionCreateSchema, example=examples.request("add_condition"))
    @blp.response(201, ConditionSchema, example=examples.response("add_condition"))
    @errors(blp, *AUTH, 403, 404)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID) -> ConditionView:
        """Record a condition (care team); one of the same code is replaced and kept.

        Hepatic impairment takes its Child-Pugh class, renal impairment its eGFR. The
        whole record is screened again; new major or contraindicated findings reach the
        care team.
        """
        c = ctx()
        return record.add_condition(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            condition=body["condition"],
            note=body["note"],
        )


@blp.route("/conditions/<uuid:condition_id>/end")
class EndCondition(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="end_condition")
    @blp.arguments(EndSchema, example=examples.request("end_condition"))
    @blp.response(200, ConditionSchema, example=examples.response("end_condition"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(
        self, body: dict[str, Any], patient_id: uuid.UUID, condition_id: uuid.UUID
    ) -> ConditionView:
        """End a condition that no longer applies (care team); it stays on record."""
        c = ctx()
        return record.end_condition(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            condition_id=condition_id,
            reason=body["reason"],
        )


@blp.route("/reported-products")
class Products(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_reported_products")
    @query_args(blp, PageQuery)
    @list_response(blp, ProductSchema, example=examples.response("list_reported_products"))
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[ProductView]:
        """What the patient takes without a prescription, as they or the care team report it."""
        return record.list_products(
            **ctx().args(),
            patient_id=patient_id,
            limit=query["limit"],
            offset=query["offset"],
        )

    @blp.doc(operationId="add_reported_product")
    @blp.arguments(ProductCreateSchema, example=examples.request("add_reported_product"))
    @blp.response(201, ProductSchema, example=examples.response("add_reported_product"))
    @blp.alt_response(
        422,
        schema=UnresolvedDrugSchema,
        description="Invalid input, or a name the catalog does not resolve (with suggestions).",
    )
    @errors(blp, 401, 403, 404)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID) -> ProductView:
        """Report a product taken without a prescription (the patient, or the care team).

        It is screened against the regimen, the conditions and the other products; the
        answer lists the findings that involve it, and one at major or above reaches the
        care team.
        """
        c = ctx()
        return record.add_product(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            name=body["name"],
            how_often=body["how_often"],
            note=body["note"],
            confirm_unlisted=body["confirm_unlisted"],
        )


@blp.route("/reported-products/<uuid:product_id>/end")
class EndProduct(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="end_reported_product")
    @blp.response(200, ProductSchema, example=examples.response("end_reported_product"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, patient_id: uuid.UUID, product_id: uuid.UUID) -> ProductView:
        """Record that the patient no longer takes it; it stays on record."""
        c = ctx()
        return record.end_product(
            **c.args(),
            kb=c.kb,
            patient_id=patient_id,
            product_id=product_id,
        )


@blp.route("/findings")
class Findings(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_findings")
    @query_args(blp, PageQuery)
    @list_response(blp, PatientFindingSchema, example=examples.response("list_findings"))
    @errors(blp, *AUTH, 404)
    def get(self, query: dict[str, Any], patient_id: uuid.UUID) -> list[FindingView]:
        """Current findings of the whole record, most severe first.

        Re-screened on every change to allergies, pregnancy, date of birth, conditions,
        reported products or the regimen; each says when it was found, by which change,
        and who acknowledged it, when and why.
        """
        return record.list_findings(
            **ctx().args(),
            patient_id=patient_id,
            limit=query["limit"],
            offset=query["offset"],
        )


@blp.route("/findings/<string:finding_id>/acknowledge")
class Acknowledge(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="acknowledge_finding")
    @blp.arguments(AcknowledgeSchema, example=examples.request("acknowledge_finding"))
    @blp.response(200, PatientFindingSchema, example=examples.response("acknowledge_finding"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID, finding_id: str) -> FindingView:
        """Acknowledge a current finding with a reason (a clinician on the care team)."""
        return record.acknowledge_finding(
            **ctx().args(),
            patient_id=patient_id,
            finding_id=finding_id,
            reason=body["reason"].strip(),
        )
