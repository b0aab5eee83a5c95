"""Every blueprint, registered in one place."""

from __future__ import annotations

from flask_smorest import Api

from service.api import (
    admin,
    audit,
    auth,
    devices,
    doses,
    health,
    interactions,
    notifications,
    patients,
    prescriptions,
    record,
    tapers,
    users,
)


def register(api: Api) -> None:
    for module in (
        health,
        auth,
        users,
        patients,
        prescriptions,
        record,
        interactions,
        doses,
        devices,
        tapers,
        notifications,
        audit,
        admin,
    ):
        api.register_blueprint(module.blp)
