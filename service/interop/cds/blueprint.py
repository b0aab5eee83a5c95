"""The CDS Hooks service's blueprint."""

from __future__ import annotations

from flask import Blueprint

PREFIX = "/cds-services"
bp = Blueprint("cds", __name__, url_prefix=PREFIX)
