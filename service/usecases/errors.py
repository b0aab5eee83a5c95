"""Typed errors raised by use cases. They know nothing of HTTP."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from service.domain.errors import DomainValidationError


class UseCaseError(Exception):
    def __init__(
        self,
        message: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        patient_id: uuid.UUID | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors: dict[str, list[str]] = dict(errors or {})
        # The patient whose record a refusal (NotFound, Forbidden) kept the caller
        # from: for the audit trail, never shown to the caller.
        self.patient_id = patient_id


class NotFound(UseCaseError):
    """Absent, or not the caller's to see: the two are indistinguishable on purpose."""


class Forbidden(UseCaseError):
    """The caller may see the resource but may not do this to it."""


class Conflict(UseCaseError):
    """The request clashes with the current state (duplicate, wrong status)."""


class InteractionConflict(Conflict):
    """A prescription refused until its findings are acknowledged or overridden."""

    def __init__(
        self,
        message: str,
        *,
        findings: list[Any],
        knowledge_base_version: str,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(message, errors=errors)
        self.findings = findings
        self.knowledge_base_version = knowledge_base_version


class TooSoon(Conflict):
    """An as-needed dose before the prescription allows the next one."""

    def __init__(self, message: str, *, next_allowed_at: dt.datetime) -> None:
        super().__init__(message)
        self.next_allowed_at = next_allowed_at


class PreconditionFailed(UseCaseError):
    """The caller changed a resource from a version that is no longer current."""

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class ValidationFailed(UseCaseError):
    """Input breaks a rule; `errors` maps field paths to messages."""


class UnresolvedDrug(ValidationFailed):
    """A drug name the catalog does not resolve, with what it may have meant."""

    def __init__(
        self, message: str, *, errors: Mapping[str, list[str]], suggestions: list[dict[str, str]]
    ) -> None:
        super().__init__(message, errors=errors)
        self.suggestions = suggestions


class Unauthenticated(UseCaseError):
    """No valid credentials."""


class Unavailable(UseCaseError):
    """A backing service did not answer; nothing was changed and the request may be
    retried shortly."""


class RateLimited(UseCaseError):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@contextmanager
def domain_rules(message: str) -> Iterator[None]:
    """Report a broken domain rule as ValidationFailed, keeping its field paths."""
    try:
        yield
    except DomainValidationError as exc:
        raise ValidationFailed(message, errors=exc.errors) from exc
