"""Patients and their care teams."""

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
from service.usecases import patients
from service.usecases.patients import CareTeamEntry, EnrolmentRecord, PatientRecord
from service.web.schemas.patients import (
    CareTeamAddSchema,
    CareTeamEntrySchema,
    EnrolmentCreatedSchema,
    PatientCreateSchema,
    PatientQuery,
    PatientSchema,
    PatientUpdateSchema,
)

blp = Blueprint("patients", __name__, url_prefix="/v1/patients", description="Patients")


@blp.route("")
class Patients(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_patients")
    @query_args(blp, PatientQuery)
    @list_response(blp, PatientSchema, example=examples.response("list_patients"))
    @errors(blp, *AUTH)
    def get(self, query: dict[str, Any]) -> list[PatientRecord]:
        """The caller's patients, by name; `q` finds them by name or e-mail.

        A clinician's care-team patients, the patient themself, or for an
        administrator every patient without clinical fields (null).
        """
        return patients.list_patients(**ctx().args(), **query)

    @blp.doc(operationId="enrol_patient")
    @blp.arguments(PatientCreateSchema, example=examples.request("enrol_patient"))
    @blp.response(202, EnrolmentCreatedSchema, example=examples.response("enrol_patient"))
    @errors(blp, *AUTH, 403)
    def post(self, body: dict[str, Any]) -> EnrolmentRecord:
        """Enrol a patient by e-mail (clinicians); the answer carries a one-time code.

        A new e-mail gets an account, which the code activates; an e-mail that already
        has an account gets an invitation, which its holder accepts signed in. The
        answer is the same either way, and the record joins the caller's patients
        when the person activates or accepts (GET /v1/me/enrolments)."""
        c = ctx()
        return patients.create_patient(**c.args(), activation_ttl=c.settings.activation_ttl, **body)


@blp.route("/<uuid:patient_id>")
class PatientView(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_patient")
    @blp.response(200, PatientSchema, example=examples.response("get_patient"))
    @errors(blp, *AUTH, 404)
    def get(self, patient_id: uuid.UUID) -> PatientRecord:
        """One patient's record."""
        return patients.get_patient(**ctx().args(), patient_id=patient_id)

    @blp.doc(operationId="update_patient")
    @blp.arguments(PatientUpdateSchema, example=examples.request("update_patient"))
    @blp.response(200, PatientSchema, example=examples.response("update_patient"))
    @errors(blp, *AUTH, 403, 404, 409)
    def patch(self, body: dict[str, Any], patient_id: uuid.UUID) -> PatientRecord:
        """Change a patient's record: patients only `name` and `timezone`, administrators
        only `email` (the sign-in), the care team the rest."""
        return patients.update_patient(**ctx().planning_args(), patient_id=patient_id, changes=body)


@blp.route("/<uuid:patient_id>/care-team")
class CareTeam(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_care_team")
    @list_response(
        blp, CareTeamEntrySchema, example=examples.response("list_care_team"), paged=False
    )
    @errors(blp, *AUTH, 404)
    def get(self, patient_id: uuid.UUID) -> list[CareTeamEntry]:
        """The clinicians on the patient's care team."""
        return patients.get_care_team(**ctx().args(), patient_id=patient_id)

    @blp.doc(operationId="add_care_team_member")
    @blp.arguments(CareTeamAddSchema, example=examples.request("add_care_team_member"))
    @blp.response(
        201, CareTeamEntrySchema(many=True), example=examples.response("add_care_team_member")
    )
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, body: dict[str, Any], patient_id: uuid.UUID) -> list[CareTeamEntry]:
        """Add a clinician to the care team (administrators)."""
        return patients.add_care_team_member(
            **ctx().args(), patient_id=patient_id, clinician_id=body["clinician_id"]
        )


@blp.route("/<uuid:patient_id>/care-team/<uuid:clinician_id>")
class CareTeamMember(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="remove_care_team_member")
    @blp.response(
        200, CareTeamEntrySchema(many=True), example=examples.response("remove_care_team_member")
    )
    @errors(blp, *AUTH, 403, 404, 409)
    def delete(self, patient_id: uuid.UUID, clinician_id: uuid.UUID) -> list[CareTeamEntry]:
        """End a clinician's membership (administrators); the history is kept."""
        return patients.remove_care_team_member(
            **ctx().args(), patient_id=patient_id, clinician_id=clinician_id
        )
