"""The development notifier: one structured log line per message, nothing sent.

The line carries what a developer needs to see a reminder fire (kind, ids, title, body,
which device platforms would have been reached) and never a device endpoint, token or
key, nor any channel secret. Titles and bodies of a patient who chose detailed
notifications name drugs and doses, which is health information: this adapter is for
development, production uses a push channel.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from service.notify.base import DeliveryReport, Message

LOGGER_NAME = "medtrack.notify"


class LogNotifier:
    name = "log"

    def __init__(self, *, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(LOGGER_NAME)

    def send(self, message: Message) -> DeliveryReport:
        fields = _loggable(message)
        self._logger.info(
            "notification %s",
            json.dumps(fields, sort_keys=True, default=str),
            extra={"notification": fields},
        )
        return DeliveryReport(detail="logged")

    def close(self) -> None:
        """Nothing to release."""


def _loggable(message: Message) -> dict[str, Any]:
    return {
        "idempotency_key": message.idempotency_key,
        "kind": message.kind,
        "recipient_id": message.recipient_id,
        "patient_id": message.patient_id,
        "title": message.title,
        "body": message.body,
        "data_keys": sorted(message.data),
        "devices": [f"{device.id}:{device.platform}" for device in message.devices],
    }
