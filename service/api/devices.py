"""Devices the signed-in user registers for reminders and alerts."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth, runtime
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.runtime import notifier_settings
from service.usecases import devices
from service.usecases.devices import DeviceView
from service.web.schemas.doses import DeviceCreateSchema, DeviceSchema

blp = Blueprint("devices", __name__, url_prefix="/v1/me/devices", description="Devices")


@blp.route("")
class Devices(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_devices")
    @list_response(blp, DeviceSchema, example=examples.response("list_devices"), paged=False)
    @errors(blp, 401)
    def get(self) -> list[DeviceView]:
        """The caller's registered devices."""
        return devices.list_devices(**ctx().args_without_clock())

    @blp.doc(operationId="register_device")
    @blp.arguments(DeviceCreateSchema, example=examples.request("register_device"))
    @blp.response(201, DeviceSchema, example=examples.response("register_device"))
    @blp.alt_response(
        200,
        schema=DeviceSchema,
        description="The device was registered already.",
        example=examples.response("register_device"),
    )
    @errors(blp, *AUTH, 409)
    def post(self, body: dict[str, Any]) -> tuple[DeviceView, int]:
        """Register a device: `webpush` (endpoint and keys), `fcm` or `apns` (token;
        iOS is reached through FCM), or `webhook` (endpoint: a route on the operator's
        gateway). A platform whose channel this server does not run is refused (422,
        `platform`). Registering the same device again returns it (200)."""
        view, created = devices.register_device(
            **ctx().args(),
            platform=body["platform"],
            endpoint=body["endpoint"],
            token=body["token"],
            keys=body["keys"],
            label=body["label"],
            reach=notifier_settings(runtime().settings).reach(),
        )
        return view, 201 if created else 200


@blp.route("/<uuid:device_id>")
class OneDevice(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="remove_device")
    @blp.response(204)
    @errors(blp, 401, 404)
    def delete(self, device_id: uuid.UUID) -> Response:
        """Stop sending to this device (the registration is kept, ended)."""
        devices.remove_device(**ctx().args(), device_id=device_id)
        return Response(status=204)
