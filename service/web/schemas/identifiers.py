"""The contracts of a patient's EHR identifiers (docs/interop.md, "Linking an EHR's
patient")."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from service.web.schemas.common import StrictSchema, text

_URI = ("http://", "https://", "urn:")


class IdentifierCreateSchema(StrictSchema):
    system = text(
        max_length=255,
        required=True,
        metadata={
            "description": "The identifier's system, e.g. the EHR's medical record number URI."
        },
    )
    value = text(max_length=255, required=True, metadata={"description": "The identifier."})

    @ma.validates("system")
    def _absolute_uri(self, value: str, data_key: str) -> None:
        if not value.startswith(_URI) or any(c.isspace() for c in value):
            raise ma.ValidationError("Must be an absolute URI (http://, https:// or urn:).")


class IdentifierSchema(StrictSchema):
    system = fields.String(required=True)
    value = fields.String(required=True)
    added_by = fields.UUID(required=True)
    added_at = fields.AwareDateTime(required=True)
