"""The FHIR API's blueprint; each resource's module adds its routes to it."""

from __future__ import annotations

from flask import Blueprint

PREFIX = "/fhir/R4"
# The agent the audit trail names for requests through the FHIR API.
AGENT = "fhir"
bp = Blueprint("fhir", __name__, url_prefix=PREFIX)
