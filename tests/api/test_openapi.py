"""The committed openapi.yaml is what the code generates, and it is valid OpenAPI 3."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from service.cli import generated_openapi_yaml

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"


def test_committed_spec_matches_the_code() -> None:
    assert SPEC.read_text(encoding="utf-8") == generated_openapi_yaml(), (
        "openapi.yaml is stale: run `make openapi` and commit the result"
    )


def test_spec_is_valid_openapi_3_with_bearer_auth() -> None:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/auth/token"]["post"]["security"] == []
    assert "security" not in spec["paths"]["/v1/me"]["get"]
    assert spec["security"] == [{"bearerAuth": []}]


def test_docs_are_served_with_their_assets(client: FlaskClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert b"swagger-ui-bundle.js" in page.data
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert len(asset.data) > 100_000
    assert client.get("/openapi.json").json["info"]["title"] == "medtrack"
