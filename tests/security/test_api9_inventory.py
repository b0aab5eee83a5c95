"""API9 Improper Inventory Management: what the app serves is what the spec describes.

Every route is in the OpenAPI document with the same methods, under /v1, except the
probes (unversioned, for process managers) and the docs that serve the document
itself. tests/api/test_openapi.py keeps the committed openapi.yaml equal to the code.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from service.api.app import API_VERSION
from tests.security.world import routes

PROBES = {"/healthz", "/livez", "/readyz"}
# Routes that serve the API description, not the API.
DOCS = {"/openapi.json", "/docs", "/docs/start.js", "/docs/assets/<path:filename>"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _spec(client: FlaskClient) -> dict[str, Any]:
    return client.get("/openapi.json").json  # type: ignore[return-value]


def _as_spec_path(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_every_route_is_in_the_spec_with_its_methods(app: Flask, client: FlaskClient) -> None:
    spec = _spec(client)
    served = {
        (method.lower(), _as_spec_path(rule)) for method, rule in routes(app) if rule not in DOCS
    }
    documented = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    assert served - documented == set(), "served but not in the spec"
    assert documented - served == set(), "in the spec but not served"


def test_every_api_route_is_versioned(app: Flask) -> None:
    unversioned = {rule for _, rule in routes(app) if not rule.startswith("/v1/")}
    assert unversioned == PROBES | DOCS


def test_the_spec_names_the_version_it_describes(client: FlaskClient) -> None:
    spec = _spec(client)
    assert spec["info"]["version"] == API_VERSION
    assert spec["info"]["title"] == "medtrack"
    assert all(p.startswith("/v1/") or p in PROBES for p in spec["paths"])
