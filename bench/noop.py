"""The no-op notifier that both the product's dispatcher and the APScheduler baseline
call in the reminder benchmark (`bench/reminders.py`, `bench/baseline.py`)."""

from __future__ import annotations

import time
import uuid

from service.notify.base import DeliveryReport, Message


def canonical(key: str) -> str:
    """`kind:<dose id>` with the id in one spelling (SQLite stores it without dashes)."""
    kind, _, rest = key.rpartition(":")
    try:
        return f"{kind}:{uuid.UUID(rest)}"
    except ValueError:
        return key


def dose_keys(message: Message) -> list[str]:
    """The reminders a message carries: its own key, or, for the doses of one patient
    due at the same instant and sent as one message, each dose's key."""
    doses = message.data.get("dose_ids")
    if isinstance(doses, list) and len(doses) > 1:
        return [f"{message.kind}:{uuid.UUID(str(d))}" for d in doses]
    return [canonical(message.idempotency_key)]


class NoopNotifier:
    """Accepts every message at once and remembers each reminder's key (see
    `dose_keys`) and when (`time.time()`) it was sent, as (key, time) tuples, so sends
    from several threads stay paired."""

    name = "bench-noop"

    def __init__(self) -> None:
        self.sends: list[tuple[str, float]] = []

    def send(self, message: Message) -> DeliveryReport:
        now = time.time()
        self.sends.extend((key, now) for key in dose_keys(message))
        return DeliveryReport()

    def close(self) -> None:
        pass

    @property
    def keys(self) -> list[str]:
        return [k for k, _ in self.sends]

    @property
    def sent_at(self) -> list[float]:
        return [t for _, t in self.sends]

    def wait_for(self, n: int, timeout: float) -> bool:
        """Whether `n` messages were sent within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.sends) < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True
