"""The HTTP status of each use-case error, and refused requests in the audit trail,
for every HTTP entrypoint alike."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

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

log = logging.getLogger("medtrack.web")

# How long a client waits before retrying a request a backing service could not serve.
RETRY_AFTER_SECONDS = "5"

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


@dataclass(frozen=True)
class Answer:
    """How an HTTP entrypoint answers a use-case error, in its own shape: the status,
    the message, field errors and headers. `error` is the error answered, or None
    when the answer is instead the failure to record a refusal."""

    status: int
    message: str
    errors: Mapping[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    error: UseCaseError | None = None


def answer(error: UseCaseError, context: RequestContext) -> Answer:
    """The answer to a use-case error, for every HTTP entrypoint alike. A refusal (403,
    404) is recorded first; one that cannot be recorded is answered as that failure
    (503 when the database did not answer, else 500), so that no attempt on a record
    goes unrecorded."""
    status = status_of(error)
    if status in (403, 404):
        try:
            audit_refusal(status, error, context)
        except Unavailable as exc:
            return answer(exc, context)
        except Exception:
            log.exception("could not record a refused request in the audit trail")
            return Answer(500, "The request could not be recorded; it has been logged.")
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, Unavailable):
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(error, Unauthenticated):
        headers["WWW-Authenticate"] = 'Bearer realm="medtrack"'
    return Answer(status, error.message, dict(error.errors or {}), headers, error)
