"""The HTTP status of each use-case error, and refused requests in the audit trail,
for every HTTP entrypoint alike."""

from __future__ import annotations

import uuid

from flask import g, request

from service.usecases import audit
from service.usecases.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
    Unavailable,
    UseCaseError,
    ValidationFailed,
)
from service.web.context import RequestContext

STATUS_OF: dict[type[UseCaseError], int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    PreconditionFailed: 412,
    ValidationFailed: 422,
    Unauthenticated: 401,
    RateLimited: 429,
    Unavailable: 503,
}


def status_of(error: UseCaseError) -> int:
    return next(code for cls, code in STATUS_OF.items() if isinstance(error, cls))


def refusal_target(error: UseCaseError) -> audit.RefusalTarget:
    """The patients and the objects of a patient's record that the URL names, and the
    patient the use case refused (one named in the body, say)."""
    args = request.view_args or {}

    def named(key: str) -> uuid.UUID | None:
        value = args.get(key)
        return value if isinstance(value, uuid.UUID) else None

    patients = (named("patient_id"), error.patient_id)
    return audit.RefusalTarget(
        patient_ids=tuple(p for p in patients if p is not None),
        prescription_id=named("rx_id"),
        dose_id=named("dose_id"),
        plan_id=named("plan_id"),
    )


def audit_refusal(status: int, error: UseCaseError, context: RequestContext) -> None:
    """Refusals of an authenticated caller go to the audit trail (HIPAA 164.312(b)).

    A refusal that cannot be recorded is not answered as a refusal: this raises
    (Unavailable, or whatever failed), and the entrypoint answers 503 or 500, so
    that no attempt on a record goes unrecorded."""
    if g.get("principal") is None:
        return
    audit.record_refusal(
        **context.args(),
        target=refusal_target(error),
        description=f"{status} {request.method} {request.path}",
    )
