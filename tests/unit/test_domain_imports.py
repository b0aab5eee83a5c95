"""The domain is pure Python: every module under service/domain/ imports only the
standard library, the domain itself and the layer below it, service.i18n.

An allow-list rather than a list of forbidden packages, so that a new dependency
(yaml, requests, numpy...) is refused without anyone thinking to name it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import service.domain

DOMAIN = "service.domain"
DOMAIN_DIR = Path(service.domain.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(DOMAIN_DIR).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((DOMAIN, *parts))


def imported(source: str, *, module: str, is_package: bool) -> Iterator[str]:
    """The absolute name of every module `source` imports, relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield str(node.module)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            yield f"{base}.{node.module}" if node.module else base


# The one layer below the domain: patient-facing texts in the patient's language.
BELOW = "service.i18n"


def allowed(name: str) -> bool:
    top = name.partition(".")[0]
    return (
        top in sys.stdlib_module_names
        or name in (DOMAIN, BELOW)
        or name.startswith((f"{DOMAIN}.", f"{BELOW}."))
    )


def foreign_imports(path: Path) -> list[str]:
    names = imported(
        path.read_text(encoding="utf-8"),
        module=module_name(path),
        is_package=path.name == "__init__.py",
    )
    return sorted({name for name in names if not allowed(name)})


MODULES = sorted(DOMAIN_DIR.rglob("*.py"))


def test_the_walk_finds_the_domain_modules() -> None:
    names = {module_name(p) for p in MODULES}
    assert {"service.domain", "service.domain.prescriptions", "service.domain.taper"} <= names


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_a_domain_module_imports_only_the_standard_library_and_the_domain(path: Path) -> None:
    assert foreign_imports(path) == [], f"{module_name(path)} imports outside the allow-list"


@pytest.mark.parametrize(
    ("source", "foreign"),
    [
        ("import yaml", ["yaml"]),
        ("import requests.adapters", ["requests.adapters"]),
        ("from sqlalchemy import select", ["sqlalchemy"]),
        ("from service.db import tables", ["service.db"]),
        ("from ..db import tables", ["service.db"]),
        ("import datetime, zoneinfo\nfrom . import errors\nfrom .taper import plan", []),
        ("from service.domain.errors import Problems\nfrom __future__ import annotations", []),
    ],
)
def test_the_check_refuses_what_is_neither_standard_nor_domain(
    source: str, foreign: list[str]
) -> None:
    names = imported(source, module="service.domain.dosing", is_package=False)
    assert sorted({n for n in names if not allowed(n)}) == foreign
