"""The CDS Hooks 2.0 service at /cds-services: discovery, the medication-safety
service for order-select and order-sign, and feedback on its cards."""

from __future__ import annotations

from flask import Flask

from service.config import Settings
from service.interop.cds import errors, routes
from service.interop.cds.blueprint import PREFIX, bp

__all__ = ["PREFIX", "bp", "install"]

errors.register(bp)
routes.load()


def install(app: Flask, settings: Settings) -> None:
    app.register_blueprint(bp)
