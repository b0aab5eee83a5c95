"""Staff accounts, managed by administrators."""

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
from service.domain.accounts import Role
from service.usecases import password_resets, users
from service.web.schemas.auth import ResetCodeSchema
from service.web.schemas.users import UserCreateSchema, UserQuery, UserSchema

blp = Blueprint("users", __name__, url_prefix="/v1/users", description="Staff accounts (admin)")


@blp.route("")
class Users(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_staff_users")
    @query_args(blp, UserQuery)
    @list_response(blp, UserSchema, example=examples.response("list_staff_users"))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[users.StaffUser]:
        """List admins and clinicians (administrators only)."""
        role = Role(query["role"]) if "role" in query else None
        return users.list_staff(
            **ctx().args_without_clock(), role=role, limit=query["limit"], offset=query["offset"]
        )

    @blp.doc(operationId="create_staff_user")
    @blp.arguments(UserCreateSchema, example=examples.request("create_staff_user"))
    @blp.response(201, UserSchema, example=examples.response("create_staff_user"))
    @errors(blp, *AUTH, 403, 409)
    def post(self, body: dict[str, Any]) -> users.StaffUser:
        """Create an admin or clinician account (administrators only)."""
        c = ctx()
        return users.create_staff_user(
            **c.args(),
            passwords=c.passwords,
            role=Role(body["role"]),
            email=body["email"],
            password=body["password"],
            name=body["name"],
        )


@blp.route("/<uuid:user_id>/password-reset")
class UserPasswordReset(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="issue_staff_password_reset")
    @blp.response(201, ResetCodeSchema, example=examples.response("issue_staff_password_reset"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, user_id: uuid.UUID) -> password_resets.ResetCode:
        """Issue a one-time password-reset code for an account (administrators only);
        earlier unused codes stop working."""
        c = ctx()
        return password_resets.issue_for_user(**c.args(), policy=c.login_policy, user_id=user_id)


@blp.route("/<uuid:user_id>/deactivate")
class Deactivate(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="deactivate_staff_user")
    @blp.response(200, UserSchema, example=examples.response("deactivate_staff_user"))
    @errors(blp, *AUTH, 403, 404, 409)
    def post(self, user_id: uuid.UUID) -> users.StaffUser:
        """Switch an account off (administrators only): it cannot log in, and every
        token and session it had ends for good."""
        return users.set_active(**ctx().args(), user_id=user_id, active=False)


@blp.route("/<uuid:user_id>/reactivate")
class Reactivate(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="reactivate_staff_user")
    @blp.response(200, UserSchema, example=examples.response("reactivate_staff_user"))
    @errors(blp, *AUTH, 403, 404)
    def post(self, user_id: uuid.UUID) -> users.StaffUser:
        """Switch an account back on (administrators only); its owner logs in again:
        no token or session from before comes back."""
        return users.set_active(**ctx().args(), user_id=user_id, active=True)
