"""Several channels at once: which channel takes which device, and what registration
may accept where a channel is not configured."""

from __future__ import annotations

import pytest

from service.notify.base import Deferred, DeliveryError, DeliveryReport, Device, Message
from service.notify.channels import ChannelRouter, Reach, parse_channels
from service.notify.factory import NotifierSettings, build_notifier
from tests.notify.conftest import make_message


class Fake:
    """A channel that records what it was given and answers as scripted."""

    concurrent = True

    def __init__(self, name: str, answer: Exception | None = None) -> None:
        self.name = name
        self.answer = answer
        self.sent: list[Message] = []
        self.closed = False

    def send(self, message: Message) -> DeliveryReport:
        self.sent.append(message)
        if self.answer is not None:
            raise self.answer
        return DeliveryReport(detail="ok", gone_devices=(f"{self.name}-gone",))

    def close(self) -> None:
        self.closed = True


WEB = Device(id="web", platform="webpush", endpoint="https://push.example/1")
PHONE = Device(id="phone", platform="apns", token="t")
HOOK = Device(id="hook", platform="webhook", endpoint="https://gw.example/route")


def test_each_channel_gets_the_messages_of_its_devices_and_one_delivery_is_enough() -> None:
    web, fcm, hook = (
        Fake("webpush"),
        Fake("fcm", DeliveryError("down", transient=True)),
        Fake("webhook"),
    )
    router = ChannelRouter({"webpush": web, "fcm": fcm, "webhook": hook})
    report = router.send(make_message(devices=(WEB, PHONE)))
    assert (len(web.sent), len(fcm.sent), len(hook.sent)) == (1, 1, 0)
    assert "webpush: ok" in report.detail
    assert "fcm: failed (down)" in report.detail
    assert report.gone_devices == ("webpush-gone",)
    router.close()
    assert [n.closed for n in (web, fcm, hook)] == [True, True, True]


def test_the_webhook_takes_what_no_other_channel_can_deliver() -> None:
    web, hook = Fake("webpush"), Fake("webhook")
    router = ChannelRouter({"webpush": web, "webhook": hook})
    router.send(make_message(devices=(PHONE,)))  # no fcm channel here
    assert (len(web.sent), len(hook.sent)) == (0, 1)
    router.send(make_message(devices=(WEB,)))
    assert (len(web.sent), len(hook.sent)) == (1, 1)
    router.send(make_message(devices=(WEB, HOOK)))
    assert (len(web.sent), len(hook.sent)) == (2, 2)


def test_no_device_of_a_configured_channel_is_a_permanent_error() -> None:
    router = ChannelRouter({"webpush": Fake("webpush"), "fcm": Fake("fcm")})
    with pytest.raises(DeliveryError, match="no device") as caught:
        router.send(make_message(devices=()))
    assert not caught.value.transient


def test_failures_everywhere_combine_transient_wins_and_all_deferred_defers() -> None:
    router = ChannelRouter(
        {
            "webpush": Fake("webpush", DeliveryError("gone", transient=False)),
            "fcm": Fake("fcm", DeliveryError("503", transient=True, retry_after=7)),
        }
    )
    with pytest.raises(DeliveryError) as caught:
        router.send(make_message(devices=(WEB, PHONE)))
    assert caught.value.transient
    assert caught.value.retry_after == 7
    deferred = ChannelRouter(
        {
            "webpush": Fake("webpush", Deferred("open", retry_after=5)),
            "fcm": Fake("fcm", Deferred("open", retry_after=3)),
        }
    )
    with pytest.raises(Deferred) as later:
        deferred.send(make_message(devices=(WEB, PHONE)))
    assert later.value.retry_after == 3


def test_the_router_is_concurrent_only_if_every_channel_is() -> None:
    serial = Fake("fcm")
    serial.concurrent = False  # type: ignore[misc]
    assert ChannelRouter({"webpush": Fake("webpush")}).concurrent
    assert not ChannelRouter({"webpush": Fake("webpush"), "fcm": serial}).concurrent


def test_channel_lists_are_parsed_and_checked() -> None:
    assert parse_channels(" webpush, FCM,webpush ") == ("webpush", "fcm")
    with pytest.raises(ValueError, match=r"MEDTRACK_NOTIFIERS.*'sms'"):
        parse_channels("webpush,sms")
    with pytest.raises(ValueError, match="MEDTRACK_NOTIFIERS"):
        parse_channels(" , ")


def test_several_channels_are_built_behind_a_router_and_one_alone() -> None:
    built = build_notifier(NotifierSettings(kind="log"))
    assert built.name == "log"
    with pytest.raises(ValueError, match="MEDTRACK_WEBHOOK_URL"):
        build_notifier(NotifierSettings(kind="log,webhook"))


@pytest.mark.parametrize(
    ("channels", "platform", "refused"),
    [
        (("webpush",), "webpush", None),
        (("webpush",), "fcm", "platform"),
        (("webpush",), "apns", "platform"),
        (("fcm",), "apns", None),
        (("fcm", "webhook"), "webpush", "platform"),
        (("log",), "webhook", None),
    ],
)
def test_registration_refuses_a_platform_whose_channel_is_not_configured(
    channels: tuple[str, ...], platform: str, refused: str | None
) -> None:
    reach = Reach(channels=channels)
    found = reach.refusal(platform, None)
    assert (found[0] if found else None) == refused
    if found:
        assert "can be registered" in found[1]


def test_a_webhook_device_is_a_route_on_the_configured_gateway() -> None:
    reach = Reach(channels=("webhook",), webhook_url="https://gw.example/hooks")
    assert reach.refusal("webhook", "https://gw.example/route/ada") is None
    assert reach.refusal("webhook", "https://gw.example:443/x") is None
    for elsewhere in ("https://evil.example/x", "http://gw.example/x", "https://gw.example:8443/x"):
        assert reach.refusal("webhook", elsewhere) == (
            "endpoint",
            "A webhook device is a route on the gateway https://gw.example:443.",
        )
