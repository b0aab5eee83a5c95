"""Devices the signed-in user registers for reminders and alerts."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.usecases import devices
from service.usecases.devices import DeviceView
from service.web.schemas.doses import DeviceCreateSchema, DeviceSchema

blp = Blueprint("devices", __name__, url_prefix="/v1/me/devices", description="Devices")


@blp.route("")
class Devices(MethodView):
    decorators = [require_auth]

    @blp.response(200, DeviceSchema(many=True))
    @errors(blp, 401)
    def get(self) -> list[DeviceView]:
        """The caller's registered devices."""
        return devices.list_devices(**ctx().args_without_clock())

    @blp.arguments(DeviceCreateSchema)
    @blp.response(201, DeviceSchema)
    @blp.alt_response(200, schema=DeviceSchema, description="The device was registered already.")
    @errors(blp, *AUTH, 409)
    def post(self, body: dict[str, Any]) -> tuple[DeviceView, int]:
        """Register a device: `webpush` (endpoint and keys), `fcm` or `apns` (token;
        iOS is reached through FCM), or `webhook` (endpoint). Registering the same
        device again returns it (200)."""
        view, created = devices.register_device(
            **ctx().args(),
            platform=body["platform"],
            endpoint=body["endpoint"],
            token=body["token"],
            keys=body["keys"],
            label=body["label"],
        )
        return view, 201 if created else 200


@blp.route("/<uuid:device_id>")
class OneDevice(MethodView):
    decorators = [require_auth]

    @blp.response(204)
    @errors(blp, 401, 404)
    def delete(self, device_id: uuid.UUID) -> Response:
        """Stop sending to this device (the registration is kept, ended)."""
        devices.remove_device(**ctx().args(), device_id=device_id)
        return Response(status=204)
