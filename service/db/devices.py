"""Registered devices: what the dispatcher sends to and the device API manages."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from sqlalchemy import Table, Text, case, cast, select, update
from sqlmodel import Session, col
from sqlmodel import select as model_select

from service.db.batch import in_batch
from service.db.tables import Device

_DEVICES: Table = Device.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, kw_only=True)
class DeviceFacts:
    id: uuid.UUID
    user_id: uuid.UUID
    platform: str
    endpoint: str | None
    token: str | None
    keys: dict[str, str]


class DeviceRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def devices_of(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[Device]]:
        out: dict[uuid.UUID, list[Device]] = {u: [] for u in user_ids}
        if not user_ids:
            return out
        query = (
            model_select(Device)
            .where(
                in_batch(self._s.connection(), _DEVICES.c.user_id, user_ids),
                col(Device.removed_at).is_(None),
            )
            .order_by(col(Device.created_at), col(Device.id))
        )
        for d in self._s.exec(query):
            out[d.user_id].append(d)
        return out

    def device_facts(self, user_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[DeviceFacts]]:
        """Active devices of each user, as plain rows, for the dispatcher."""
        out: dict[uuid.UUID, list[DeviceFacts]] = {u: [] for u in user_ids}
        if not user_ids:
            return out
        d = _DEVICES
        connection = self._s.connection()
        # Only Web Push subscriptions have keys: an empty object comes back as NULL,
        # with no JSON to decode for every other device.
        keys = case((cast(d.c["keys"], Text) == "{}", None), else_=d.c["keys"])
        query = (
            select(d.c.id, d.c.user_id, d.c.platform, d.c.endpoint, d.c.token, keys)
            .where(
                in_batch(connection, d.c.user_id, user_ids, name="user_ids"),
                d.c.removed_at.is_(None),
            )
            .order_by(d.c.created_at, d.c.id)
        )
        for r in connection.execute(query).all():
            out[r[1]].append(
                DeviceFacts(
                    id=r[0], user_id=r[1], platform=r[2], endpoint=r[3], token=r[4], keys=r[5] or {}
                )
            )
        return out

    def same_device_elsewhere(
        self, *, platform: str, endpoint: str | None, token: str | None, user_id: uuid.UUID
    ) -> list[Device]:
        """Active registrations of the same token or endpoint by other users."""
        query = model_select(Device).where(
            Device.platform == platform,
            col(Device.user_id) != user_id,
            col(Device.removed_at).is_(None),
        )
        if token is not None:
            query = query.where(Device.token == token)
        else:
            query = query.where(Device.endpoint == endpoint)
        return list(self._s.exec(query))

    def add_device(
        self,
        *,
        user_id: uuid.UUID,
        platform: str,
        endpoint: str | None,
        token: str | None,
        keys: Mapping[str, str],
        label: str | None,
        now: dt.datetime,
    ) -> Device:
        device = Device(
            user_id=user_id,
            platform=platform,
            endpoint=endpoint,
            token=token,
            keys=dict(keys),
            label=label,
            created_at=now,
        )
        self._s.add(device)
        self._s.flush()
        return device

    def device(self, user_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
        query = model_select(Device).where(
            Device.id == device_id, Device.user_id == user_id, col(Device.removed_at).is_(None)
        )
        return self._s.exec(query).first()

    def remove_devices(self, ids: Collection[str], *, reason: str, now: dt.datetime) -> None:
        if ids:
            connection = self._s.connection()
            connection.execute(
                update(_DEVICES)
                .where(
                    in_batch(connection, _DEVICES.c.id, [uuid.UUID(i) for i in ids]),
                    _DEVICES.c.removed_at.is_(None),
                )
                .values(removed_at=now, removed_reason=reason)
            )
