"""The spec for code generators: every operation has a stable snake_case operationId
and a request and response example, each of which its schemas accept; list
operations document their total (X-Total-Count); the version is the package's.

An example is checked twice: against the JSON Schema the spec gives (what a generator
reads), and by the marshmallow schema the route itself loads and dumps with.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource

from service import create_app
from service.config import Settings

SNAKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
METHODS = ("get", "post", "put", "patch", "delete")
JSON = "application/json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(Settings(env="test", database_url="sqlite://"))
    return app.test_client().get("/openapi.json").json  # type: ignore[no-any-return]


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _examples(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], Any]]:
    """(operationId, where, JSON schema, example) for every JSON body in the spec."""
    found = []
    for _, _, op in _operations(spec):
        body = op.get("requestBody", {}).get("content", {}).get(JSON)
        if body is not None:
            found.append((op["operationId"], "request", body["schema"], body.get("example")))
        for status, response in op["responses"].items():
            content = response.get("content", {}).get(JSON)
            if status.startswith("2") and content is not None:
                found.append((op["operationId"], status, content["schema"], content.get("example")))
    return found


def test_every_operation_has_a_unique_snake_case_operation_id(spec: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(spec)]
    assert len(ids) >= 79
    missing = [f"{m} {p}" for p, m, op in _operations(spec) if "operationId" not in op]
    assert missing == []
    assert [i for i in ids if not SNAKE.fullmatch(i)] == []
    assert len(set(ids)) == len(ids), "operationIds repeat"


def test_the_patient_walk_has_the_names_a_generated_client_shows(spec: dict[str, Any]) -> None:
    ids = {op["operationId"] for _, _, op in _operations(spec)}
    assert ids >= {
        "activate_account",
        "log_in",
        "list_today_doses",
        "log_dose_taken",
        "log_prn_dose",
        "report_symptoms",
        "create_prescription",
    }


def test_every_json_body_and_answer_has_an_example(spec: dict[str, Any]) -> None:
    without = [(op, where) for op, where, _, example in _examples(spec) if example is None]
    assert without == []
    posts = [op for _, m, op in _operations(spec) if m in ("post", "patch")]
    assert sum("requestBody" in op for op in posts) >= 34


def test_every_example_is_valid_against_the_spec_schema(spec: dict[str, Any]) -> None:
    registry = Registry().with_resource("", Resource.opaque(spec))
    problems = []
    for op, where, schema, example in _examples(spec):
        validator = OAS30Validator({**schema, "components": spec["components"]}, registry=registry)
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(example)
        ]
        if errors:
            problems.append((op, where, errors[:3]))
    assert problems == []


def test_every_example_loads_and_dumps_with_the_routes_marshmallow_schema(
    app: Flask, spec: dict[str, Any]
) -> None:
    by_name = _component_schemas(app)
    problems = []
    checked = 0
    for op, where, schema, example in _examples(spec):
        many = schema.get("type") == "array"
        ref = (schema["items"] if many else schema).get("$ref", "")
        name = ref.rsplit("/", 1)[-1]
        if name not in by_name:
            continue
        loader = by_name[name](many=many)
        try:
            loaded = loader.load(example)
        except ma.ValidationError as exc:
            problems.append((op, where, exc.messages))
            continue
        if where != "request" and not loader._hooks["pre_dump"]:
            # What the route would send for what it read: the example again. (A schema
            # that shapes the use case's objects before dumping cannot dump its own
            # output; its example is checked by loading only.)
            try:
                again = json.loads(json.dumps(loader.dump(loaded), default=str))
            except (AttributeError, TypeError, ValueError) as exc:
                problems.append((op, where, f"does not dump: {exc!r}"))
                continue
            if not _same(again, example):
                problems.append((op, where, "dumps differently"))
        checked += 1
    assert problems == []
    assert checked >= 100


def _same(dumped: Any, example: Any) -> bool:
    """Equal, but for a field the example leaves out that loading gave its default
    (None) and dumping then wrote out."""
    if isinstance(dumped, dict) and isinstance(example, dict):
        extra = {k for k in dumped.keys() - example.keys() if dumped[k] is None}
        return dumped.keys() - extra == example.keys() and all(
            _same(dumped[k], example[k]) for k in example
        )
    if isinstance(dumped, list) and isinstance(example, list):
        return len(dumped) == len(example) and all(map(_same, dumped, example))
    return bool(dumped == example)


def _component_schemas(app: Flask) -> dict[str, type[ma.Schema]]:
    """The marshmallow schema class behind each component name of the spec."""
    api = next(iter(app.extensions["flask-smorest"]["blp_name_to_api"].values()))
    # apispec keys a schema by its class and modifiers (only, exclude...), none used here.
    return {name: key[0] for key, name in api.ma_plugin.converter.refs.items()}


def test_list_operations_document_their_total(spec: dict[str, Any]) -> None:
    lists = [
        (op["operationId"], op["responses"]["200"])
        for _, method, op in _operations(spec)
        if method == "get"
        and op["responses"]
        .get("200", {})
        .get("content", {})
        .get(JSON, {})
        .get("schema", {})
        .get("type")
        == "array"
    ]
    assert len(lists) >= 19
    assert [op for op, r in lists if "X-Total-Count" not in r.get("headers", {})] == []


def test_the_spec_and_livez_carry_the_package_version(
    spec: dict[str, Any], client: FlaskClient
) -> None:
    assert spec["info"]["version"] == version("medtrack")
    assert client.get("/livez").json["version"] == version("medtrack")  # type: ignore[index]
