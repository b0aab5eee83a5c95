"""Building notifiers from settings: each missing or bad setting names its variable."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.notify.factory import NotifierSettings, build_notifier
from service.notify.fcm import FcmNotifier
from service.notify.log import LogNotifier
from service.notify.webhook import WebhookNotifier
from service.notify.webpush import WebPushNotifier

SECRET = "whsec-" + "k" * 26


def vapid_raw_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def service_account_file(directory: Path, **overrides: object) -> str:
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    account = {
        "type": "service_account",
        "project_id": "medtrack-test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "notify@medtrack-test.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",
    } | overrides
    path = directory / "account.json"
    path.write_text(json.dumps({k: v for k, v in account.items() if v is not None}))
    return str(path)


def test_log_is_the_default() -> None:
    assert isinstance(build_notifier(NotifierSettings()), LogNotifier)


def test_unknown_kind_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MEDTRACK_NOTIFIER"):
        build_notifier(NotifierSettings(kind="sms"))


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (NotifierSettings(kind="webhook", webhook_secret=SECRET), "MEDTRACK_WEBHOOK_URL"),
        (
            NotifierSettings(kind="webhook", webhook_url="ftp://x/y", webhook_secret=SECRET),
            "MEDTRACK_WEBHOOK_URL",
        ),
        (NotifierSettings(kind="webhook", webhook_url="https://h/x"), "MEDTRACK_WEBHOOK_SECRET"),
        (
            NotifierSettings(kind="webhook", webhook_url="https://h/x", webhook_secret=" "),
            "MEDTRACK_WEBHOOK_SECRET",
        ),
        (
            NotifierSettings(kind="webhook", webhook_url="https://h/x", webhook_secret="short"),
            "MEDTRACK_WEBHOOK_SECRET",
        ),
        (
            NotifierSettings(
                kind="webhook",
                webhook_url="https://h/x",
                webhook_secret=SECRET,
                webhook_timeout_seconds=0,
            ),
            "MEDTRACK_WEBHOOK_TIMEOUT_SECONDS",
        ),
        (
            NotifierSettings(kind="webpush", vapid_subject="mailto:a@b"),
            "MEDTRACK_VAPID_PRIVATE_KEY",
        ),
        (
            NotifierSettings(
                kind="webpush", vapid_private_key="not-a-key", vapid_subject="mailto:a@b"
            ),
            "MEDTRACK_VAPID_PRIVATE_KEY",
        ),
        (NotifierSettings(kind="fcm"), "MEDTRACK_FCM_CREDENTIALS"),
        (
            NotifierSettings(kind="fcm", fcm_credentials_file="/nonexistent/account.json"),
            "MEDTRACK_FCM_CREDENTIALS",
        ),
    ],
)
def test_missing_or_bad_setting_names_its_variable(
    settings: NotifierSettings, variable: str
) -> None:
    with pytest.raises(ValueError, match=variable):
        build_notifier(settings)


@pytest.mark.parametrize("subject", [None, "ops@medtrack.example", "http://medtrack.example"])
def test_vapid_subject_must_be_a_contact_uri(subject: str | None) -> None:
    settings = NotifierSettings(
        kind="webpush", vapid_private_key=vapid_raw_key(), vapid_subject=subject
    )
    with pytest.raises(ValueError, match="MEDTRACK_VAPID_SUBJECT"):
        build_notifier(settings)


def test_fcm_file_must_be_a_service_account(tmp_path: Path) -> None:
    path = service_account_file(tmp_path, type="authorized_user")
    with pytest.raises(ValueError, match="MEDTRACK_FCM_CREDENTIALS"):
        build_notifier(NotifierSettings(kind="fcm", fcm_credentials_file=path))


def test_fcm_needs_a_project_from_the_file_or_the_setting(tmp_path: Path) -> None:
    path = service_account_file(tmp_path, project_id=None)
    with pytest.raises(ValueError, match="MEDTRACK_FCM_PROJECT_ID"):
        build_notifier(NotifierSettings(kind="fcm", fcm_credentials_file=path))
    notifier = build_notifier(
        NotifierSettings(kind="fcm", fcm_credentials_file=path, fcm_project_id="medtrack-x")
    )
    notifier.close()


def test_fcm_endpoint_must_be_an_http_url(tmp_path: Path) -> None:
    settings = NotifierSettings(
        kind="fcm",
        fcm_credentials_file=service_account_file(tmp_path),
        fcm_endpoint="fcm.internal:8080",
    )
    with pytest.raises(ValueError, match="MEDTRACK_FCM_ENDPOINT"):
        build_notifier(settings)


def test_complete_settings_build_each_adapter(tmp_path: Path) -> None:
    built = [
        build_notifier(
            NotifierSettings(kind="webhook", webhook_url="https://h/x", webhook_secret=SECRET)
        ),
        build_notifier(
            NotifierSettings(
                kind="webpush",
                vapid_private_key=vapid_raw_key(),
                vapid_subject="mailto:ops@medtrack.example",
            )
        ),
        build_notifier(
            NotifierSettings(
                kind="fcm",
                fcm_credentials_file=service_account_file(tmp_path),
                fcm_endpoint="http://127.0.0.1:9",
            )
        ),
    ]
    assert [type(n) for n in built] == [WebhookNotifier, WebPushNotifier, FcmNotifier]
    assert [n.name for n in built] == ["webhook", "webpush", "fcm"]
    for notifier in built:
        notifier.close()


def test_settings_repr_hides_secrets() -> None:
    settings = NotifierSettings(
        kind="webpush", webhook_secret=SECRET, vapid_private_key="private-key-material"
    )
    assert SECRET not in repr(settings)
    assert "private-key-material" not in repr(settings)
