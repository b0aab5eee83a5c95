"""The per-endpoint circuit breaker: slow sends open an endpoint's circuit, its messages
are deferred without a send, and one probe at a time decides whether it closes."""

from __future__ import annotations

import pytest

from service.notify.base import Deferred, DeliveryError, DeliveryReport, Device
from service.notify.breaker import CircuitBreaker, endpoint_key, guarded
from service.notify.fanout import fan_out

SLOW = 2.0  # seconds a slow send takes on the fake clock; slow_after below is 1 s


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failures=2, open_seconds=30.0, clock=clock)


def send(clock: Clock, cb: CircuitBreaker, key: str, *, takes: float, fails: bool = False) -> str:
    def attempt() -> str:
        clock.now += takes
        if fails:
            raise DeliveryError("timed out", transient=True)
        return "ok"

    return guarded(cb, key, attempt, slow_after=1.0)


def test_endpoint_keys_are_host_and_port() -> None:
    assert endpoint_key("https://Push.Example.org/send/abc") == "push.example.org:443"
    assert endpoint_key("http://127.0.0.1:8080/x") == "127.0.0.1:8080"


def test_slow_sends_open_the_circuit_and_later_messages_are_deferred_unsent() -> None:
    clock, calls = Clock(), []
    cb = breaker(clock)
    for _ in range(2):
        with pytest.raises(DeliveryError):
            send(clock, cb, "slow:443", takes=SLOW, fails=True)

    def never() -> str:
        calls.append("sent")
        return "ok"

    with pytest.raises(Deferred) as deferred:
        guarded(cb, "slow:443", never, slow_after=1.0)
    assert calls == [], "an open circuit sends nothing"
    assert deferred.value.transient
    assert deferred.value.retry_after == pytest.approx(30.0)
    # Another endpoint is not held by this one.
    assert send(clock, cb, "fast:443", takes=0.01) == "ok"


def test_a_200_that_takes_the_whole_deadline_counts_as_slow() -> None:
    clock = Clock()
    cb = breaker(clock)
    send(clock, cb, "drip:80", takes=SLOW)
    send(clock, cb, "drip:80", takes=SLOW)
    assert cb.is_open("drip:80")


def test_prompt_failures_do_not_open_the_circuit() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(10):
        with pytest.raises(DeliveryError):
            send(clock, cb, "503:443", takes=0.01, fails=True)
    assert not cb.is_open("503:443")


def test_half_open_lets_one_probe_through_and_its_outcome_decides() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(2):
        send(clock, cb, "e:443", takes=SLOW)
    clock.now += 30.0
    assert cb.wait("e:443") is None, "the first caller after the open period is the probe"
    assert cb.wait("e:443") is not None, "only one probe at a time"
    cb.failed("e:443")  # the probe was slow: open again for the full period
    assert cb.wait("e:443") == pytest.approx(30.0)
    clock.now += 30.0
    assert send(clock, cb, "e:443", takes=0.01) == "ok"
    assert not cb.is_open("e:443")
    assert cb.wait("e:443") is None


def test_a_message_whose_devices_are_all_deferred_is_deferred_not_failed() -> None:
    devices = (Device(id="a", platform="webpush"), Device(id="b", platform="webpush"))

    def skip(device: Device) -> str:
        raise Deferred(f"circuit open ({device.id})", retry_after=5.0 if device.id == "a" else 3.0)

    with pytest.raises(Deferred) as deferred:
        fan_out(devices, skip, channel="webpush")
    assert deferred.value.retry_after == 3.0

    def one_tried(device: Device) -> str:
        if device.id == "a":
            raise Deferred("circuit open", retry_after=5.0)
        raise DeliveryError("503", transient=True)

    with pytest.raises(DeliveryError) as failed:
        fan_out(devices, one_tried, channel="webpush")
    assert not isinstance(failed.value, Deferred), "one device was tried: an attempt"

    def one_delivered(device: Device) -> str:
        if device.id == "a":
            raise Deferred("circuit open", retry_after=5.0)
        return "201"

    assert isinstance(fan_out(devices, one_delivered, channel="webpush"), DeliveryReport)
