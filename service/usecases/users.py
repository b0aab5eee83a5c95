"""Staff accounts (admins and clinicians) and the caller's own profile."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from service.db.tables import User
from service.db.uow import UnitOfWork
from service.domain.accounts import STAFF_ROLES, Role, SessionEnd
from service.domain.audit import AuditAction
from service.domain.pages import Page
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import Conflict, Forbidden, NotFound, ValidationFailed
from service.usecases.security import Passwords, password_problems
from service.usecases.sessions import end_every_session


@dataclass(frozen=True, kw_only=True)
class Me:
    id: uuid.UUID
    email: str
    name: str
    role: str
    patient_id: uuid.UUID | None


@dataclass(frozen=True, kw_only=True)
class StaffUser:
    """A staff account as administrators see it."""

    id: uuid.UUID
    email: str
    name: str
    role: str
    is_active: bool
    created_at: dt.datetime


def _staff_user(user: User) -> StaffUser:
    return StaffUser(
        id=user.id,
        email=user.email,
        name=user.name,
        role=user.role,
        is_active=user.is_active,
        created_at=user.created_at,
    )


def _require_admin(caller: Caller) -> None:
    # The command line runs with the operator's authority (bootstrap accounts).
    if caller.agent == "cli":
        return
    if caller.require().role is not Role.ADMIN:
        raise Forbidden("Only an administrator may manage staff accounts.")


def _check_new_staff(*, role: Role, email: str, password: str) -> None:
    if role not in STAFF_ROLES:
        raise ValidationFailed(
            "Patients are created by their clinician.",
            errors={"role": ["Must be admin or clinician."]},
        )
    problems = password_problems(password, email=email.strip())
    if problems:
        raise ValidationFailed("The password is not acceptable.", errors={"password": problems})


def create_staff_user(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    passwords: Passwords,
    role: Role,
    email: str,
    password: str,
    name: str,
) -> StaffUser:
    """Create an admin or clinician account (command line, or an admin over the API)."""
    _require_admin(caller)
    _check_new_staff(role=role, email=email, password=password)
    now = clock()
    with uow:
        email = email.strip().lower()
        if uow.users.by_email(email) is not None:
            raise Conflict(
                "An account with this email already exists.",
                errors={"email": ["Already registered."]},
            )
        user = uow.users.add(
            User(
                email=email,
                name=name.strip(),
                role=role.value,
                password_hash=passwords.hash(password),
                created_at=now,
            )
        )
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype="user.create",
            entity_type="User",
            entity_id=user.id,
            after={"email": user.email, "name": user.name, "role": user.role},
        )
        uow.commit()
        return _staff_user(user)


def list_staff(
    *, uow: UnitOfWork, caller: Caller, role: Role | None, limit: int, offset: int
) -> Page[StaffUser]:
    _require_admin(caller)
    roles = [role.value] if role else [r.value for r in STAFF_ROLES]
    with uow:
        return uow.users.list_by_role(roles=roles, limit=limit, offset=offset).map(_staff_user)


def get_me(*, uow: UnitOfWork, caller: Caller) -> Me:
    who = caller.require()
    with uow:
        user = uow.users.get(who.user_id)
        if user is None:
            raise NotFound("No such user.")
        return Me(
            id=user.id, email=user.email, name=user.name, role=user.role, patient_id=who.patient_id
        )


def set_active(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, user_id: uuid.UUID, active: bool
) -> StaffUser:
    """Deactivate or reactivate an account (administrators only).

    Either way the account's token generation moves on, so every token and session
    issued before stays dead: reactivation gives the owner their account back, not
    the sessions a thief may have held when it was switched off.
    """
    _require_admin(caller)
    who = caller.principal
    if who is not None and who.user_id == user_id and not active:
        raise Conflict(
            "Administrators cannot deactivate their own account.",
            errors={"user_id": ["Your own account."]},
        )
    now = clock()
    with uow:
        user = uow.users.get(user_id)
        if user is None:
            raise NotFound(f"No user {user_id}.")
        before = {"is_active": user.is_active}
        user.is_active = active
        end_every_session(
            uow,
            user=user,
            now=now,
            reason=SessionEnd.REACTIVATED if active else SessionEnd.DEACTIVATED,
        )
        own = uow.patients.by_user(user.id)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.UPDATE,
            subtype="user.reactivate" if active else "user.deactivate",
            entity_type="User",
            entity_id=user.id,
            patient_id=own.id if own else None,
            before=before,
            after={"is_active": active},
        )
        uow.commit()
        return _staff_user(user)
