"""Errors raised by domain rules."""

from __future__ import annotations

from collections.abc import Mapping


class DomainValidationError(ValueError):
    """Input breaks a domain rule; `errors` maps dotted field paths to messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


class Problems:
    """Collects field problems so that one response names every bad field at once."""

    def __init__(self) -> None:
        self._errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self._errors.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self._errors:
            raise DomainValidationError(self._errors)


class TransitionError(ValueError):
    """A state change that the current state does not allow."""
