"""The development notifier: one structured line, nothing secret."""

from __future__ import annotations

import json
import logging

import pytest

from service.notify.base import Device
from service.notify.factory import NotifierSettings, build_notifier
from tests.notify.conftest import ANDROID_FID, make_message

WEBHOOK_SECRET = "whsec-never-log-me-0123456789"


def test_logs_one_line_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    settings = NotifierSettings(
        kind="log", webhook_url="https://hooks.example/x", webhook_secret=WEBHOOK_SECRET
    )
    notifier = build_notifier(settings)
    web = Device(
        id="dev-web",
        platform="webpush",
        endpoint="https://push.example/secret-subscription-path",
        keys={"p256dh": "BPublicKeyMaterial", "auth": "authsecret"},
    )
    message = make_message(devices=(web, *make_message().devices[1:]))

    with caplog.at_level(logging.INFO, logger="medtrack.notify"):
        report = notifier.send(message)
    notifier.close()

    assert report.detail == "logged"
    [record] = caplog.records
    assert record.name == "medtrack.notify"
    line = record.getMessage()
    assert "\n" not in line
    logged = json.loads(line.removeprefix("notification "))
    assert logged["idempotency_key"] == message.idempotency_key
    assert logged["kind"] == "dose-reminder"
    assert logged["devices"] == ["dev-web:webpush", "dev-android:fcm", "dev-iphone:apns"]
    for secret in (
        WEBHOOK_SECRET,
        "secret-subscription-path",
        "BPublicKeyMaterial",
        "authsecret",
        ANDROID_FID,
    ):
        assert secret not in caplog.text
    assert WEBHOOK_SECRET not in repr(settings)
