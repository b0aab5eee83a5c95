"""The no-op notifier that both the product's dispatcher and the APScheduler baseline
call in the reminder benchmark (`bench/reminders.py`, `bench/baseline.py`)."""

from __future__ import annotations

import time

from service.notify.base import DeliveryReport, Message


class NoopNotifier:
    """Accepts every message at once and remembers each key and when (`time.time()`)
    it was sent, as one (key, time) tuple per send, so sends from several threads
    stay paired."""

    name = "bench-noop"

    def __init__(self) -> None:
        self.sends: list[tuple[str, float]] = []

    def send(self, message: Message) -> DeliveryReport:
        self.sends.append((message.idempotency_key, time.time()))
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
