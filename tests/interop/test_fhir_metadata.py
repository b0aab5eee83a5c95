"""GET /fhir/R4/metadata: a valid R4 CapabilityStatement, served without a token,
that lists exactly what the resource modules declared, and nothing the API does
not route."""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from flask import Flask
from flask.testing import FlaskClient

from service.interop.fhir import capabilities

BASE = "/fhir/R4"
# The route (method, rule) each FHIR interaction is served by, for a resource type.
# A rule's variables are written as "<>".
ROUTE_OF = {
    "read": ("GET", "{base}/{type}/<>"),
    "vread": ("GET", "{base}/{type}/<>/_history/<>"),
    "history-instance": ("GET", "{base}/{type}/<>/_history"),
    "search-type": ("GET", "{base}/{type}"),
    "create": ("POST", "{base}/{type}"),
}


def statement(client: FlaskClient) -> dict[str, Any]:
    r = client.get(BASE + "/metadata")
    assert r.status_code == 200, r.get_json()
    assert r.headers["Content-Type"].startswith("application/fhir+json")
    body: dict[str, Any] = r.get_json()
    return body


def routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, re.sub(r"<[^>]+>", "<>", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(BASE)
        for method in rule.methods or ()
    }


def test_the_statement_is_valid_r4_and_needs_no_token(client: FlaskClient) -> None:
    body = statement(client)
    CapabilityStatement.model_validate(body)
    assert (body["status"], body["kind"], body["fhirVersion"]) == ("active", "instance", "4.0.1")
    assert body["format"] == ["json"]
    assert body["software"] == {"name": "medtrack", "version": version("medtrack")}
    assert body["implementation"]["url"] == "http://localhost/fhir/R4"
    (rest,) = body["rest"]
    assert rest["mode"] == "server"
    assert "Bearer" in rest["security"]["description"]
    assert "service" not in rest["security"], "neither SMART nor OAuth is claimed"


def test_it_lists_exactly_what_each_module_declared(client: FlaskClient) -> None:
    (rest,) = statement(client)["rest"]
    listed = {r["type"]: r for r in rest["resource"]}
    assert list(listed) == list(capabilities.RESOURCES)
    for name, cap in capabilities.RESOURCES.items():
        entry = listed[name]
        assert [i["code"] for i in entry["interaction"]] == cap.interactions
        params = [(p["name"], p["type"]) for p in entry.get("searchParam", [])]
        assert params == [(p.name, p.type) for p in cap.search_params]
        ops = [(o["name"], o["definition"]) for o in entry.get("operation", [])]
        assert ops == [(n.removeprefix("$"), d) for n, d in cap.operations]
    assert [i["code"] for i in rest.get("interaction", [])] == capabilities.SYSTEM_INTERACTIONS
    patient, request = listed["Patient"], listed["MedicationRequest"]
    assert {i["code"] for i in patient["interaction"]} >= {"read"}
    codes = [i["code"] for i in request["interaction"]]
    assert codes[:4] == ["read", "vread", "history-instance", "search-type"]
    assert (request["versioning"], request["readHistory"]) == ("versioned", True)
    assert [p["name"] for p in request["searchParam"]] == ["patient", "status"]


def test_every_declared_interaction_and_operation_is_routed(app: Flask) -> None:
    served = routes(app)
    for name, cap in capabilities.RESOURCES.items():
        for interaction in cap.interactions:
            if interaction not in ROUTE_OF:
                continue
            method, pattern = ROUTE_OF[interaction]
            route = (method, pattern.format(base=BASE, type=name))
            assert route in served, f"{name} {interaction} is declared but not routed"
        for op, _definition in cap.operations:
            wanted = "$" + op.removeprefix("$")
            assert any(wanted in rule for _method, rule in served), f"{name} {op} is not routed"


def test_every_route_is_declared(app: Flask) -> None:
    """The other way round (OWASP API9, inventory): nothing is served under /fhir/R4
    that the statement does not list, so an EHR (or an auditor) sees the whole API."""
    declared = {("GET", f"{BASE}/metadata")}
    for name, cap in capabilities.RESOURCES.items():
        for interaction in cap.interactions:
            if interaction in ROUTE_OF:
                method, pattern = ROUTE_OF[interaction]
                declared.add((method, pattern.format(base=BASE, type=name)))
        for op, _definition in cap.operations:
            declared.add(("GET", f"{BASE}/{name}/<>/${op.removeprefix('$')}"))
    if "transaction" in capabilities.SYSTEM_INTERACTIONS:
        declared.add(("POST", BASE))
    served = {(m, rule) for m, rule in routes(app) if m not in ("HEAD", "OPTIONS")}
    assert served - declared == set(), "served but not in the CapabilityStatement"
