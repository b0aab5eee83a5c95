"""No password, access token, activation code, signing key, webhook secret, VAPID key,
device token or Authorization header in the logs, or in the audit trail, whatever
path a request takes (API2, API3, API8).

Every logger is captured at DEBUG (libraries included) while accounts sign up, log
in, fail to, make requests that succeed and fail, and the notifiers send and fail.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from service.config import Settings
from service.db.logs import RedactDatabaseErrors
from service.db.uow import Database
from service.notify.base import DeliveryError, Device
from service.notify.log import LogNotifier
from service.notify.webhook import WebhookNotifier
from service.notify.webpush import WebPushNotifier
from service.usecases import users
from tests.conftest import Builders
from tests.notify.conftest import make_message
from tests.notify.fake_http import FakeServer, Recorded, Reply
from tests.security.world import FCM_TOKEN, secrets_of_a_session

WEBHOOK_SECRET = "whsec-do-not-log-0123456789abcdef"
WRONG_PASSWORD = "a mistyped secret password"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture
def receiver() -> Iterator[FakeServer]:
    """Accepts the first request of each path, refuses the next with a 500."""
    seen: set[str] = set()

    def respond(request: Recorded) -> Reply:
        first = request.path not in seen
        seen.add(request.path)
        return Reply(status=201 if first else 500, body=b"" if first else b"upstream broke")

    server = FakeServer(respond)
    server.start()
    yield server
    server.stop()


def _requests(make: Builders, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Sign-up, log-in and requests of every outcome; returns the secrets they used."""
    secrets, _ = secrets_of_a_session(make)
    token = secrets[4]
    headers = {"Authorization": f"Bearer {token}"}
    c = make.client
    c.post("/v1/auth/token", json={"email": "robin@example.org", "password": WRONG_PASSWORD})
    c.post("/v1/auth/activate", json={"activation_code": secrets[1], "password": WRONG_PASSWORD})
    c.get("/v1/patients/00000000-0000-0000-0000-000000000000", headers=headers)  # 404, audited
    c.post("/v1/me/devices", json={"platform": "sms", "token": FCM_TOKEN}, headers=headers)
    c.get("/v1/me", headers={"Authorization": f"Bearer {token}x"})

    def broken(**_: object) -> None:
        raise RuntimeError("the profile could not be read")

    with monkeypatch.context() as m:
        m.setattr(users, "get_me", broken)
        assert c.get("/v1/me", headers=headers).status_code == 500
    assert c.post("/v1/auth/logout", headers=headers).status_code == 204
    assert c.get("/v1/me", headers=headers).status_code == 401
    return [*secrets, WRONG_PASSWORD]


def _notify(receiver: FakeServer) -> list[str]:
    """Each notifier once delivered and once refused; returns their secrets."""
    vapid = ec.generate_private_key(ec.SECP256R1())
    vapid_key = _b64url(vapid.private_numbers().private_value.to_bytes(32, "big"))
    browser = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = browser.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = _b64url(b"auth-secret-1234")
    web = Device(
        id="dev-web",
        platform="webpush",
        endpoint=receiver.url + "/push/sub",
        keys={"p256dh": _b64url(point), "auth": auth},
    )
    fcm = Device(id="dev-android", platform="fcm", token=FCM_TOKEN)
    message = make_message(devices=(web, fcm))
    notifiers = [
        LogNotifier(),
        WebhookNotifier(url=receiver.url + "/hook", secret=WEBHOOK_SECRET, timeout_seconds=2),
        WebPushNotifier(vapid_private_key=vapid_key, vapid_subject="mailto:ops@example.org"),
    ]
    for notifier in notifiers:
        for _ in range(2):
            try:
                notifier.send(message)
            except DeliveryError as exc:
                logging.getLogger("medtrack.dispatch").warning("delivery failed: %s", exc)
        notifier.close()
    return [WEBHOOK_SECRET, vapid_key, auth, FCM_TOKEN]


def test_no_secret_reaches_a_log_line(
    make: Builders,
    settings: Settings,
    receiver: FakeServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = _requests(make, monkeypatch) + _notify(receiver) + [settings.secret_key]
    logged = caplog.text
    assert "unhandled error" in logged, "the 500 was logged, with its traceback"
    assert "delivery failed" in logged
    assert "notification" in logged
    assert [s for s in secrets if s in logged] == []
    assert "Bearer " not in logged
    for record in caplog.records:
        assert "authorization" not in str(record.args).lower()


def test_no_secret_reaches_the_audit_trail(
    make: Builders, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = _requests(make, monkeypatch)
    with database.engine.connect() as conn:
        rows = [repr(tuple(r)) for r in conn.execute(text("SELECT * FROM audit_events"))]
    assert len(rows) > 10
    trail = "\n".join(rows)
    assert [s for s in secrets if s in trail] == []
    assert "$argon2" not in trail


def test_a_failed_statement_does_not_carry_its_parameters(database: Database) -> None:
    """Database errors reach `log.exception`; the values bound to the statement
    (health data, hashes) are left out of their message."""
    secret = "diazepam-for-patient-0042"
    with pytest.raises(DBAPIError) as caught, database.engine.connect() as conn:
        conn.execute(text("SELECT missing_column FROM users WHERE email = :e"), {"e": secret})
    assert secret not in str(caught.value)
    assert "hidden" in str(caught.value)


def test_a_logged_database_error_carries_neither_statement_nor_values(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The message of a database error can quote stored values (PostgreSQL's
    "invalid input syntax ...: \"...\"", "Failing row contains (...)") and the
    statement's literals; a logged one keeps its traceback, class and SQLSTATE only."""
    secret = "sertraline-200mg-patient-0042"
    statements = [f"SELECT '{secret}' FROM no_such_table"]  # noqa: S608
    if database.engine.dialect.name == "postgresql":
        statements.append(f"SELECT CAST('{secret}' AS integer)")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactDatabaseErrors())
    log = logging.getLogger("medtrack.test.redaction")
    log.addHandler(handler)
    try:
        for statement in statements:
            with pytest.raises(DBAPIError) as caught, database.engine.connect() as conn:
                conn.execute(text(statement))
            assert secret in str(caught.value)
            try:
                raise RuntimeError("the job failed") from caught.value
            except RuntimeError:
                log.exception("unhandled error")
    finally:
        log.removeHandler(handler)
    written = stream.getvalue()
    assert secret not in written
    assert written.count("withheld from the log") == len(statements)
    assert "Traceback" in written
