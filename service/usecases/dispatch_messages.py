"""The message a claimed outbox row becomes: a dose's reminder or follow-up written
from the dose as it now stands, or the title and body stored with the row."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from service.db.devices import DeviceFacts
from service.db.doses import EventFacts
from service.db.outbox import Claimed
from service.domain.messages import MessageKind
from service.domain.prescriptions import plain_amount
from service.notify.base import Device, Message


def device(d: DeviceFacts) -> Device:
    return Device(
        id=str(d.id), platform=d.platform, endpoint=d.endpoint, token=d.token, keys=d.keys or {}
    )


def dose_message(c: Claimed, event: EventFacts, devices: tuple[Device, ...]) -> Message:
    local = event.scheduled_at.astimezone(zoneinfo.ZoneInfo(event.timezone))
    dose = f"{plain_amount(Decimal(event.dose_amount))} {event.dose_unit}"
    if c.kind == MessageKind.FOLLOW_UP:
        title = f"Did you take your {event.drug}?"
        body = f"{dose} was due at {local:%H:%M}. Log it in the app."
    else:
        title = f"Time for your {event.drug}"
        body = f"{dose} at {local:%H:%M}."
    return Message(
        idempotency_key=c.idempotency_key,
        kind=c.kind,
        recipient_id=str(c.recipient_id),
        patient_id=str(c.patient_id),
        title=title,
        body=body,
        data={
            "dose_id": str(event.id),
            "prescription_id": str(event.prescription_id),
            "drug": event.drug,
            "dose": dose,
            "scheduled_at": event.scheduled_at.isoformat(),
            "local_time": local.isoformat(),
        },
        devices=devices,
    )


def stored_message(c: Claimed, devices: tuple[Device, ...]) -> Message:
    return Message(
        idempotency_key=c.idempotency_key,
        kind=c.kind,
        recipient_id=str(c.recipient_id),
        patient_id=str(c.patient_id),
        title=str(c.payload.get("title", "")),
        body=str(c.payload.get("body", "")),
        data=dict(c.payload.get("data", {})),
        devices=devices,
    )
