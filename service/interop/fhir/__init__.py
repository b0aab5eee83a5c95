"""The FHIR R4 API at /fhir/R4 (application/fhir+json): the patient's record as FHIR
resources, read with the JSON API's bearer tokens and access rules, and
MedicationRequests from an EHR created through the same checks as /v1."""

from __future__ import annotations

from flask import Flask

from service.config import Settings
from service.interop.fhir import responses, routes
from service.interop.fhir.blueprint import PREFIX, bp

__all__ = ["PREFIX", "bp", "install"]

responses.register_errors(bp)
routes.load()


def install(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)
