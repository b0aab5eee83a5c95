"""Tokens: log in, log out, activate a patient account; and the caller's profile."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import bearer_token, caller, require_auth, services, uow
from service.api.docs import PUBLIC, errors
from service.api.schemas.auth import ActivateSchema, MeSchema, TokenRequestSchema, TokenSchema
from service.usecases import auth, users

blp = Blueprint("auth", __name__, url_prefix="/v1", description="Authentication")


@blp.route("/auth/token")
class Token(MethodView):
    @blp.doc(**PUBLIC)
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @errors(blp, 401, 429)
    def post(self, body: dict[str, Any]) -> auth.IssuedToken:
        """Log in with e-mail and password; returns a bearer token.

        Repeated failures for one account or address answer 429 with Retry-After.
        """
        s = services()
        return auth.login(
            uow=uow(),
            caller=caller(),
            clock=s.clock,
            passwords=s.passwords,
            tokens=s.tokens,
            policy=s.login_policy,
            email=body["email"],
            password=body["password"],
        )


@blp.route("/auth/logout")
class Logout(MethodView):
    decorators = [require_auth]

    @blp.response(204)
    @errors(blp, 401)
    def post(self) -> None:
        """Revoke the access token used for this request."""
        s = services()
        auth.logout(
            uow=uow(), caller=caller(), clock=s.clock, tokens=s.tokens, token=bearer_token()
        )


@blp.route("/auth/activate")
class Activate(MethodView):
    @blp.doc(**PUBLIC)
    @blp.arguments(ActivateSchema)
    @blp.response(200, MeSchema)
    @errors(blp, 429)
    def post(self, body: dict[str, Any]) -> users.Me:
        """Set the patient's password with the one-time code from their clinician."""
        s = services()
        return auth.activate(
            uow=uow(),
            caller=caller(),
            clock=s.clock,
            passwords=s.passwords,
            policy=s.login_policy,
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
        return users.get_me(uow=uow(), caller=caller())
