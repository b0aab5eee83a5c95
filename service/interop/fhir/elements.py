"""Reading a FHIR resource strictly: each problem recorded by its element's FHIRPath
expression, a reader stopping at the first problem that leaves nothing to read
further (`fail`), and the resource refused with every problem found."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn, TypeGuard

DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T.*)?$")
# How an unresolved code or name is said (an issue of type code-invalid).
UNRESOLVED = "Not resolved: "
_CODING = frozenset({"system", "version", "code", "display", "userSelected"})


def is_object(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


class Refused(Exception):
    """A resource that cannot be read: its status, and one problem per element as
    (FHIRPath expression, what is wrong)."""

    def __init__(self, status: int, message: str, problems: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems


@dataclass
class Problems:
    """What is wrong with a resource, by element (paths under `root`)."""

    root: str
    found: list[tuple[str, str]] = field(default_factory=list)
    unresolved: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.found.append((f"{self.root}.{path}", message))

    def unresolved_codes(self, path: str, codes: list[str]) -> None:
        for code in codes:
            self.unresolved.append((f"{self.root}.{path}", f"{UNRESOLVED}{code}"))

    def raise_if_any(self) -> None:
        if self.unresolved:
            raise Refused(
                422,
                "The medication does not resolve to a drug medtrack knows.",
                self.unresolved + self.found,
            )
        if self.found:
            raise Refused(422, "The MedicationRequest cannot be read; see the issues.", self.found)


class Stop(Exception):
    """The dosage cannot be read further (its problem is already recorded)."""


def fail(p: Problems, path: str, message: str) -> NoReturn:
    p.add(path, message)
    raise Stop


def decimal(value: Any, p: Problems, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(p, path, "Must be a number.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        fail(p, path, "Must be a number.")
    if not number.is_finite() or number <= 0:
        fail(p, path, "Must be greater than 0.")
    return number


def whole(value: Any, p: Problems, path: str) -> int:
    number = decimal(value, p, path)
    if number != number.to_integral_value():
        fail(p, path, "Must be a whole number.")
    return int(number)


def date(value: Any, p: Problems, at: str) -> dt.date:
    """A date, or a dateTime's day as written."""
    match = DATE.match(value) if isinstance(value, str) else None
    if match is not None:
        try:
            return dt.date.fromisoformat(match.group(1))
        except ValueError:
            pass
    fail(p, at, "A date (YYYY-MM-DD) or dateTime; medtrack keeps the day as written.")


def text(value: Any, p: Problems, at: str) -> str | None:
    """An optional string element: absent, or text that is not blank."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        fail(p, at, "Must be text that is not blank.")
    return value


def codings(value: Any, p: Problems, at: str) -> list[Mapping[str, Any]]:
    """A CodeableConcept's codings, each a Coding of the right shape."""
    if value is None:
        return []
    if not isinstance(value, list):
        fail(p, at, "Must be a list of codings.")
    for i, coding in enumerate(value):
        here = f"{at}[{i}]"
        if not is_object(coding) or set(coding) - _CODING:
            fail(p, here, "A Coding: system, code and display (version, userSelected).")
        for name in ("system", "version", "code", "display"):
            text(coding.get(name), p, f"{here}.{name}")
        if not isinstance(coding.get("userSelected", False), bool):
            fail(p, f"{here}.userSelected", "Must be true or false.")
    return value
