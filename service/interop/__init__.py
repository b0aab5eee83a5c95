"""Interoperability with electronic health records: a FHIR R4 API at /fhir/R4 and a
CDS Hooks 2.0 service at /cds-services.

Both are entrypoints beside the JSON API and the console: they call the same use
cases, with the same access rules and audit trail, and hold no rule of their own;
what they add is the standards' shapes (FHIR resources, CDS Hooks cards).
"""

from __future__ import annotations

from flask import Flask

from service.config import Settings
from service.interop import cds, fhir


def install(app: Flask, settings: Settings) -> None:
    """Mount the FHIR API and the CDS Hooks service on the app."""
    fhir.install(app, settings)
    cds.install(app, settings)


def owns(path: str) -> bool:
    """Whether a path belongs to the FHIR API or the CDS Hooks service."""
    return any(path == p or path.startswith(p + "/") for p in (fhir.PREFIX, cds.PREFIX))
