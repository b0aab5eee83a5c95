"""The FCM adapter against a fake Google OAuth token endpoint and a fake FCM v1 API.

The service-account file is generated here with a fresh RSA key; its `token_uri` points
at the fake, and MEDTRACK_FCM_ENDPOINT's equivalent points the sends there too. The
`loopback_only` guard (conftest) refuses every other host.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import messaging  # type: ignore[import-untyped]

from service.notify.base import DeliveryError, Device
from service.notify.fcm import FcmNotifier
from service.notify.fcm_transport import point_messaging_at
from tests.notify.conftest import ANDROID_FID, IPHONE_FID, make_message
from tests.notify.fake_http import FakeServer, Recorded, Reply, Serve

PROJECT = "medtrack-test"
CLIENT_EMAIL = f"notify@{PROJECT}.iam.gserviceaccount.com"
ACCESS_TOKEN = "ya29.fake-access-token"
SEND_PATH = f"/v1/projects/{PROJECT}/messages:send"
JSON = {"Content-Type": "application/json"}

FcmReply = Callable[[dict[str, Any]], Reply]


def addressee(sent: dict[str, Any]) -> str:
    message = sent["message"]
    return str(message.get("fid") or message["token"])


def delivered(sent: dict[str, Any]) -> Reply:
    name = f"projects/{PROJECT}/messages/{addressee(sent)}-1"
    return Reply(body=json.dumps({"name": name}).encode(), headers=JSON)


def fcm_error(status: int, code: str, fcm_code: str | None = None, **headers: str) -> Reply:
    error: dict[str, Any] = {"code": status, "message": "fake", "status": code}
    if fcm_code:
        fcm_type = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
        error["details"] = [{"@type": fcm_type, "errorCode": fcm_code}]
    return Reply(status=status, body=json.dumps({"error": error}).encode(), headers=JSON | headers)


def fake_google(answer: FcmReply = delivered) -> Callable[[Recorded], Reply]:
    def respond(request: Recorded) -> Reply:
        if request.path == "/token":
            token = {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}
            return Reply(body=json.dumps(token).encode(), headers=JSON)
        if request.path == SEND_PATH:
            return answer(json.loads(request.body))
        return Reply(status=404)

    return respond


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account(directory: Path, key: rsa.RSAPrivateKey, token_uri: str) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-1",
        "private_key": pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(account), encoding="utf-8")
    return str(path)


@pytest.fixture
def fcm(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Iterator[Callable[..., FcmNotifier]]:
    """Builds notifiers aimed at a fake server, and deletes their firebase Apps afterwards."""
    made: list[FcmNotifier] = []

    def build(server: FakeServer, **options: Any) -> FcmNotifier:
        path = service_account(tmp_path, rsa_key, server.url + "/token")
        notifier = FcmNotifier(credentials_file=path, endpoint=server.url, **options)
        made.append(notifier)
        return notifier

    yield build
    for notifier in made:
        notifier.close()


def sends(server: FakeServer) -> list[Recorded]:
    return [request for request in server.requests if request.path == SEND_PATH]


def test_sends_to_android_and_ios_with_a_bearer_token(
    fcm: Callable[..., FcmNotifier],
    rsa_key: rsa.RSAPrivateKey,
    serve: Serve,
    loopback_only: list[str],
) -> None:
    message = make_message()
    google = serve(fake_google())
    report = fcm(google).send(message)

    assert report.gone_devices == ()
    assert "dev-android" in report.detail
    assert "dev-iphone" in report.detail
    token_request = google.requests[0]
    assert token_request.path == "/token"
    assert_grant(token_request, rsa_key)
    android, iphone = sends(google)
    assert [json.loads(r.body)["message"].get("fid") for r in (android, iphone)] == [
        ANDROID_FID,
        IPHONE_FID,
    ]
    assert android.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    sent = json.loads(android.body)["message"]
    assert sent["notification"] == {"title": message.title, "body": message.body}
    assert set(sent["data"]) == {"payload", "idempotency_key", "kind"}
    assert (sent["data"]["idempotency_key"], sent["data"]["kind"]) == (
        message.idempotency_key,
        "dose-reminder",
    )
    # FCM data is strings only: the data is one JSON document, its numbers numbers.
    assert json.loads(sent["data"]["payload"]) == dict(message.data)
    assert json.loads(sent["data"]["payload"])["step"] == 3
    assert sent["android"] == {"priority": "high", "ttl": "3600s"}
    assert sent["apns"]["headers"]["apns-priority"] == "10"
    assert sent["apns"]["headers"]["apns-push-type"] == "alert"
    # Beyond the fakes, only google-auth's background access-boundary lookup may try
    # to leave the machine, and the guard refused it.
    assert set(loopback_only) <= {"iamcredentials.googleapis.com"}


def assert_grant(request: Recorded, key: rsa.RSAPrivateKey) -> None:
    """RFC 7523 JWT bearer grant, signed with the service account's key."""
    form = urllib.parse.parse_qs(request.body.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        form["assertion"][0],
        key.public_key(),
        algorithms=["RS256"],
        options={"verify_aud": False},
    )
    assert claims["iss"] == CLIENT_EMAIL
    # FCM v1 accepts the cloud-platform scope firebase-admin asks for.
    assert "https://www.googleapis.com/auth/cloud-platform" in claims["scope"].split()


def test_legacy_registration_token_is_sent_as_token_and_flagged_deprecated(
    fcm: Callable[..., FcmNotifier],
    serve: Serve,
) -> None:
    legacy = "fMEP0vJqS0:APA91bH-" + "x" * 130
    device = Device(id="dev-old-android", platform="fcm", token=legacy)
    google = serve(fake_google())
    notifier = fcm(google)
    with pytest.warns(DeprecationWarning, match="Message.token is deprecated"):
        report = notifier.send(make_message(devices=(device,)))
    assert "dev-old-android" in report.detail
    [sent] = sends(google)
    assert json.loads(sent.body)["message"]["token"] == legacy
    assert "fid" not in json.loads(sent.body)["message"]


def test_unregistered_token_is_a_gone_device(fcm: Callable[..., FcmNotifier], serve: Serve) -> None:
    def answer(sent: dict[str, Any]) -> Reply:
        if addressee(sent) == ANDROID_FID:
            return fcm_error(404, "NOT_FOUND", "UNREGISTERED")
        return delivered(sent)

    google = serve(fake_google(answer))
    report = fcm(google).send(make_message())
    assert report.gone_devices == ("dev-android",)
    assert "dev-iphone" in report.detail


def test_every_device_gone_is_permanent_and_names_them(
    fcm: Callable[..., FcmNotifier], serve: Serve
) -> None:
    google = serve(fake_google(lambda _: fcm_error(404, "NOT_FOUND")))
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message())
    assert not failed.value.transient
    assert failed.value.gone_devices == ("dev-android", "dev-iphone")


def test_server_error_is_transient_and_not_retried_inside(
    fcm: Callable[..., FcmNotifier],
    serve: Serve,
) -> None:
    google = serve(fake_google(lambda _: fcm_error(500, "INTERNAL")))
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message(devices=make_message().devices[1:2]))
    assert failed.value.transient
    assert len(sends(google)) == 1


def test_quota_exceeded_is_transient_with_retry_after(
    fcm: Callable[..., FcmNotifier], serve: Serve
) -> None:
    quota = fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", **{"Retry-After": "60"})
    google = serve(fake_google(lambda _: quota))
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message())
    assert failed.value.transient
    assert failed.value.retry_after == 60.0


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed(
    fcm: Callable[..., FcmNotifier], serve: Serve, status: int
) -> None:
    elsewhere = serve(fake_google())
    moved = Reply(status=status, headers={"Location": elsewhere.url + SEND_PATH})
    google = serve(fake_google(lambda _: moved))
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message(devices=make_message().devices[1:2]))
    assert not failed.value.transient
    assert len(sends(google)) == 1
    assert sends(elsewhere) == []


def test_invalid_argument_is_permanent(fcm: Callable[..., FcmNotifier], serve: Serve) -> None:
    invalid = fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    google = serve(fake_google(lambda _: invalid))
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message())
    assert not failed.value.transient
    assert failed.value.gone_devices == ()


def test_refused_credentials_are_permanent(fcm: Callable[..., FcmNotifier], serve: Serve) -> None:
    def respond(request: Recorded) -> Reply:
        refusal = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        return Reply(status=400, body=json.dumps(refusal).encode(), headers=JSON)

    google = serve(respond)
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message())
    assert not failed.value.transient
    assert "OAuth" in failed.value.message
    assert sends(google) == []


def test_no_fcm_or_apns_device_is_a_permanent_no_device_error(
    fcm: Callable[..., FcmNotifier],
    serve: Serve,
) -> None:
    web_only = make_message().devices[:1]
    google = serve(fake_google())
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message(devices=web_only))
    assert not failed.value.transient
    assert "no fcm device" in failed.value.message
    assert google.requests == []


def test_device_without_token_is_permanent(fcm: Callable[..., FcmNotifier], serve: Serve) -> None:
    tokenless = (Device(id="dev-android", platform="fcm"),)
    google = serve(fake_google())
    with pytest.raises(DeliveryError) as failed:
        fcm(google).send(make_message(devices=tokenless))
    assert not failed.value.transient


def test_project_id_setting_overrides_the_file(
    fcm: Callable[..., FcmNotifier], serve: Serve
) -> None:
    other_path = "/v1/projects/medtrack-other/messages:send"

    def respond(request: Recorded) -> Reply:
        if request.path == other_path:
            return delivered(json.loads(request.body))
        return fake_google()(request)

    google = serve(respond)
    fcm(google, project_id="medtrack-other").send(make_message())
    assert other_path in [request.path for request in google.requests]


def test_private_firebase_api_we_rely_on_still_exists(
    fcm: Callable[..., FcmNotifier],
    serve: Serve,
) -> None:
    """If this fails after upgrading firebase-admin, update service/notify/fcm_transport.py."""
    assert callable(messaging._get_messaging_service)
    google = serve(fake_google())
    notifier = fcm(google)
    service = messaging._get_messaging_service(notifier._app)
    assert service._fcm_url == google.url + SEND_PATH
    assert point_messaging_at(notifier._app, google.url + "/") == service._fcm_url
    assert service._client.session.get_adapter(service._fcm_url).max_retries.status == 0
