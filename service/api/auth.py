"""Sessions: log in, refresh, log out (here or everywhere), change or reset a
password, activate a patient account; and the caller's profile and notices."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import bearer_token, ctx, require_auth
from service.api.docs import AUTH, PUBLIC, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.usecases import auth, password_resets, patients, sessions, users
from service.usecases.patients import EnrolmentRecord
from service.web.schemas.auth import (
    ActivateSchema,
    MeSchema,
    NoticeQuery,
    NoticeSchema,
    PasswordChangeSchema,
    PasswordResetSchema,
    RefreshSchema,
    ResetCodeSchema,
    TokenRequestSchema,
    TokenSchema,
)
from service.web.schemas.common import PageQuery
from service.web.schemas.patients import EnrolmentSchema, InvitationAcceptSchema

blp = Blueprint("auth", __name__, url_prefix="/v1", description="Authentication")


@blp.route("/auth/token")
class Token(MethodView):
    @blp.doc(operationId="log_in")
    @blp.doc(**PUBLIC)
    @blp.arguments(TokenRequestSchema, example=examples.request("log_in"))
    @blp.response(200, TokenSchema, example=examples.response("log_in"))
    @errors(blp, 401, 429)
    def post(self, body: dict[str, Any]) -> auth.IssuedToken:
        """Log in with e-mail and password; returns an access and a refresh token.

        After repeated failures for one account from one client, that client waits
        longer before each further attempt (429 with Retry-After); other clients,
        the owner's among them, are not held up. A client with many failures over
        any accounts is refused for a while.
        """
        c = ctx()
        return auth.login(
            **c.args(),
            passwords=c.passwords,
            tokens=c.tokens,
            policy=c.login_policy,
            email=body["email"],
            password=body["password"],
        )


@blp.route("/auth/refresh")
class Refresh(MethodView):
    @blp.doc(operationId="refresh_session")
    @blp.doc(**PUBLIC)
    @blp.arguments(RefreshSchema, example=examples.request("refresh_session"))
    @blp.response(200, TokenSchema, example=examples.response("refresh_session"))
    @errors(blp, 401)
    def post(self, body: dict[str, Any]) -> sessions.IssuedToken:
        """Exchange a refresh token for new tokens (the refresh token works once).

        A refresh token presented a second time ends its whole session: someone
        else holds a copy.
        """
        c = ctx()
        return sessions.refresh(
            **c.args(),
            tokens=c.tokens,
            policy=c.login_policy,
            refresh_token=body["refresh_token"],
        )


@blp.route("/auth/password")
class Password(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="change_password")
    @blp.arguments(PasswordChangeSchema, example=examples.request("change_password"))
    @blp.response(200, TokenSchema, example=examples.response("change_password"))
    @errors(blp, *AUTH, 429)
    def post(self, body: dict[str, Any]) -> sessions.IssuedToken:
        """Change the caller's password; every other session ends and this device
        continues with the new tokens in the answer."""
        c = ctx()
        return auth.change_password(
            **c.args(),
            passwords=c.passwords,
            tokens=c.tokens,
            policy=c.login_policy,
            current_password=body["current_password"],
            new_password=body["new_password"],
        )


@blp.route("/auth/password-reset")
class PasswordReset(MethodView):
    @blp.doc(operationId="reset_password")
    @blp.doc(**PUBLIC)
    @blp.arguments(PasswordResetSchema, example=examples.request("reset_password"))
    @blp.response(204)
    @errors(blp, 429)
    def post(self, body: dict[str, Any]) -> None:
        """Set a new password with the one-time reset code from the care team or an
        administrator; every session of the account ends."""
        c = ctx()
        password_resets.redeem(
            **c.args(),
            passwords=c.passwords,
            policy=c.login_policy,
            reset_code=body["reset_code"],
            new_password=body["new_password"],
        )


@blp.route("/patients/<uuid:patient_id>/password-reset")
class PatientPasswordReset(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="issue_patient_password_reset")
    @blp.response(201, ResetCodeSchema, example=examples.response("issue_patient_password_reset"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, patient_id: uuid.UUID) -> password_resets.ResetCode:
        """Issue a one-time password-reset code for a patient (a clinician on the care
        team or an administrator); earlier unused codes stop working."""
        c = ctx()
        return password_resets.issue_for_patient(
            **c.args(), policy=c.login_policy, patient_id=patient_id
        )


@blp.route("/auth/logout-all")
class LogoutAll(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="log_out_everywhere")
    @blp.response(204)
    @errors(blp, 401)
    def post(self) -> None:
        """End every session of the caller, on every device, this one included."""
        sessions.logout_all(**ctx().args())


@blp.route("/auth/logout")
class Logout(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="log_out")
    @blp.response(204)
    @errors(blp, 401)
    def post(self) -> None:
        """End this session: the access token used and its refresh token."""
        c = ctx()
        auth.logout(**c.args(), tokens=c.tokens, token=bearer_token())


@blp.route("/auth/activate")
class Activate(MethodView):
    @blp.doc(operationId="activate_account")
    @blp.doc(**PUBLIC)
    @blp.arguments(ActivateSchema, example=examples.request("activate_account"))
    @blp.response(200, MeSchema, example=examples.response("activate_account"))
    @errors(blp, 429)
    def post(self, body: dict[str, Any]) -> users.Me:
        """Set the patient's password with the one-time code from their clinician."""
        c = ctx()
        return auth.activate(
            **c.args(),
            passwords=c.passwords,
            policy=c.login_policy,
            activation_code=body["activation_code"],
            password=body["password"],
        )


@blp.route("/me")
class MeView(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_me")
    @blp.response(200, MeSchema, example=examples.response("get_me"))
    @errors(blp, 401)
    def get(self) -> users.Me:
        """The caller's own account (and patient id for patients)."""
        return users.get_me(**ctx().args_without_clock())


@blp.route("/me/enrolments")
class Enrolments(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_enrolments")
    @query_args(blp, PageQuery)
    @list_response(blp, EnrolmentSchema, example=examples.response("list_enrolments"))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[EnrolmentRecord]:
        """The patients the caller has enrolled, newest first (clinicians): pending,
        accepted (with the patient's id) or expired."""
        return patients.list_enrolments(**ctx().args(), **query)


@blp.route("/me/care-invitations")
class CareInvitations(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="accept_care_invitation")
    @blp.arguments(InvitationAcceptSchema, example=examples.request("accept_care_invitation"))
    @blp.response(200, EnrolmentSchema, example=examples.response("accept_care_invitation"))
    @errors(blp, *AUTH, 409, 422, 429)
    def post(self, body: dict[str, Any]) -> EnrolmentRecord:
        """Accept a clinician's invitation with its code (patients): the clinician
        joins the caller's care team."""
        c = ctx()
        return patients.accept_invitation(
            **c.args(),
            client_limit=c.login_policy.client_max_failures,
            code=body["code"],
        )


@blp.route("/me/notices")
class Notices(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_notices")
    @query_args(blp, NoticeQuery)
    @list_response(blp, NoticeSchema, example=examples.response("list_notices"))
    @errors(blp, *AUTH)
    def get(self, query: dict[str, Any]) -> list[sessions.Notice]:
        """What the caller has been told about their account, newest first: repeated
        failed logins, a reused refresh token, a password change or reset."""
        return sessions.list_notices(
            **ctx().args_without_clock(), limit=query["limit"], offset=query["offset"]
        )
