"""Every blueprint, registered in one place."""

from __future__ import annotations

from flask_smorest import Api

from service.api import (
    admin,
    audit,
    auth,
    changes,
    devices,
    doses,
    health,
    idempotency,
    identifiers,
    interactions,
    notifications,
    patients,
    prescriptions,
    record,
    supplies,
    tapers,
    users,
)
from service.web.schemas import notifications as notification_schemas


def register(api: Api) -> None:
    # Before any blueprint: the spec plugin documents Idempotency-Key as operations register.
    idempotency.document(api.spec)
    for module in (
        health,
        auth,
        users,
        patients,
        prescriptions,
        record,
        identifiers,
        interactions,
        doses,
        devices,
        tapers,
        supplies,
        notifications,
        audit,
        admin,
        changes,
        idempotency,
    ):
        api.register_blueprint(module.blp)
    # What push notifications carry: documented components, not operations.
    notification_schemas.register(api.spec)
