"""Staff accounts, managed by administrators."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import caller, require_auth, services, uow
from service.api.docs import AUTH, errors
from service.api.schemas.users import UserCreateSchema, UserQuery, UserSchema
from service.db.tables import User
from service.domain.accounts import Role
from service.usecases import users

blp = Blueprint("users", __name__, url_prefix="/v1/users", description="Staff accounts (admin)")


@blp.route("")
class Users(MethodView):
    decorators = [require_auth]

    @blp.arguments(UserQuery, location="query")
    @blp.response(200, UserSchema(many=True))
    @errors(blp, *AUTH, 403)
    def get(self, query: dict[str, Any]) -> list[User]:
        """List admins and clinicians (administrators only)."""
        role = Role(query["role"]) if "role" in query else None
        return users.list_staff(
            uow=uow(), caller=caller(), role=role, limit=query["limit"], offset=query["offset"]
        )

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @errors(blp, *AUTH, 403, 409)
    def post(self, body: dict[str, Any]) -> User:
        """Create an admin or clinician account (administrators only)."""
        s = services()
        return users.create_staff_user(
            uow=uow(),
            caller=caller(),
            clock=s.clock,
            passwords=s.passwords,
            role=Role(body["role"]),
            email=body["email"],
            password=body["password"],
            name=body["name"],
        )
