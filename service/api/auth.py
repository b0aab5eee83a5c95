"""Sessions: log in, refresh, log out (here or everywhere), change or reset a
password, activate a patient account; and the caller's profile and notices."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import bearer_token, ctx, require_auth
from service.api.docs import AUTH, PUBLIC, errors
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
    @blp.doc(**PUBLIC)
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
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
    @blp.doc(**PUBLIC)
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenSchema)
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

    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, TokenSchema)
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
    @blp.doc(**PUBLIC)
    @blp.arguments(PasswordResetSchema)
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

    @blp.response(201, ResetCodeSchema)
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

    @blp.response(204)
    @errors(blp, 401)
    def post(self) -> None:
        """End every session of the caller, on every device, this one included."""
        sessions.logout_all(**ctx().args())


@blp.route("/auth/logout")
class Logout(MethodView):
    decorators = [require_auth]

    @blp.response(204)
    @errors(blp, 401)
    def post(self) -> None:
        """End this session: the access token used and its refresh token."""
        c = ctx()
        auth.logout(**c.args(), tokens=c.tokens, token=bearer_token())


@blp.route("/auth/activate")
class Activate(MethodView):
    @blp.doc(**PUBLIC)
    @blp.arguments(ActivateSchema)
    @blp.response(200, MeSchema)
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

    @blp.response(200, MeSchema)
    @errors(blp, 401)
    def get(self) -> users.Me:
        """The caller's own account (and patient id for patients)."""
        return users.get_me(**ctx().args_without_clock())


@blp.route("/me/enrolments")
class Enrolments(MethodView):
    decorators = [require_auth]

    @blp.arguments(PageQuery, location="query")
    @blp.response(200, EnrolmentSchema(many=True))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[EnrolmentRecord]:
        """The patients the caller has enrolled, newest first (clinicians): pending,
        accepted (with the patient's id) or expired."""
        return patients.list_enrolments(**ctx().args(), **query)


@blp.route("/me/care-invitations")
class CareInvitations(MethodView):
    decorators = [require_auth]

    @blp.arguments(InvitationAcceptSchema)
    @blp.response(200, EnrolmentSchema)
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

    @blp.arguments(NoticeQuery, location="query")
    @blp.response(200, NoticeSchema(many=True))
    @errors(blp, *AUTH)
    def get(self, query: dict[str, Any]) -> list[sessions.Notice]:
        """What the caller has been told about their account, newest first: repeated
        failed logins, a reused refresh token, a password change or reset."""
        return sessions.list_notices(
            **ctx().args_without_clock(), limit=query["limit"], offset=query["offset"]
        )
