"""Reading the knowledge base's YAML files, and collecting every problem found in
them, each with its file and entry, so that one load reports them all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from service.domain.catalog import Source


class KnowledgeBaseError(ValueError):
    """The data files are inconsistent; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid knowledge base:\n  " + "\n  ".join(problems))


class Problems:
    """Every problem found so far, each as "<file>: <entry>: <message>"."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """A file's YAML, read with PyYAML's C loader where it is built in."""
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 (a safe loader)


def yaml_files(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("*.yaml"))


def strings(value: Any) -> tuple[str, ...]:
    """A YAML list of names (or nothing) as a tuple of strings."""
    return tuple(str(v) for v in (value or ()))


def to_decimal(value: Any) -> Decimal:
    """A YAML number as a Decimal, through its text (so 0.1 stays 0.1)."""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def check_sources(
    where: str, ids: Iterable[str], sources: Mapping[str, Source], problems: Problems
) -> tuple[str, ...]:
    """The source ids an entry cites; citing none, or an unknown one, is a problem."""
    ids = tuple(ids)
    if not ids:
        problems.add(where, "no sources")
    for sid in ids:
        if sid not in sources:
            problems.add(where, f"unknown source {sid!r}")
    return ids
