"""Where firebase-admin sends FCM requests, and how it retries them.

firebase-admin (7.x) offers no public option for either, so this module is the one
place that reaches into its private API: `messaging._get_messaging_service(app)`, the
service's `_fcm_url` and its `_client.session`. `point_messaging_at` checks each of
them and raises RuntimeError when an upgrade has renamed one, and
tests/notify/test_fcm.py asserts the same, so a breaking upgrade fails loudly instead
of silently sending to Google from a test or ignoring the configured endpoint.

Why override them at all:

- The endpoint: tests run against a local fake FCM, and MEDTRACK_FCM_ENDPOINT lets an
  operator route through an egress proxy; the path stays FCM v1's
  `/v1/projects/{project}/messages:send` under the configured base URL.
- Retries: firebase-admin retries 500/503 up to four times with exponential backoff
  (about seven seconds) and re-sends after a read error. The dispatcher would stall on
  every message during an FCM outage, and a re-sent request that had in fact reached
  FCM delivers the reminder twice. The outbox already retries with its own backoff, so
  here only a connection that was never made is retried, once.
- Deadlines: firebase-admin's `httpTimeout` is per socket operation; the adapter
  mounted here ends each send at its total deadline instead.
- Redirects: requests follows them by default; FCM never redirects a send, so one is
  refused (a permanent error for that message).
"""

from __future__ import annotations

from typing import Any

import requests
from firebase_admin import messaging  # type: ignore[import-untyped]
from urllib3.util.retry import Retry

from service.notify.deadline import DeadlineAdapter

GOOGLE_FCM = "https://fcm.googleapis.com"
CONNECT_ONLY_RETRY = Retry(total=1, connect=1, read=0, redirect=0, status=0, other=0)


def point_messaging_at(app: Any, endpoint: str | None) -> str:
    """Send the App's FCM requests to `endpoint` (None: Google); returns the send URL."""
    base = (endpoint or GOOGLE_FCM).rstrip("/")
    service = _messaging_service(app)
    url = f"{base}/v1/projects/{app.project_id}/messages:send"
    session = getattr(getattr(service, "_client", None), "session", None)
    if not isinstance(getattr(service, "_fcm_url", None), str) or not isinstance(
        session, requests.Session
    ):
        raise RuntimeError(
            "firebase-admin's messaging service no longer has _fcm_url/_client.session; "
            "service/notify/fcm_transport.py must be updated for this firebase-admin version"
        )
    service._fcm_url = url
    # The adapter also makes each send honour its total deadline (service.notify.deadline).
    session.mount(base + "/", DeadlineAdapter(max_retries=CONNECT_ONLY_RETRY))
    # A redirect is an error, not a new address: following it would hand the message
    # (and, on the same host, the bearer token) to wherever the answer points.
    session.max_redirects = 0
    return url


def _messaging_service(app: Any) -> Any:
    getter = getattr(messaging, "_get_messaging_service", None)
    if getter is None:
        raise RuntimeError(
            "firebase_admin.messaging._get_messaging_service is gone; "
            "service/notify/fcm_transport.py must be updated for this firebase-admin version"
        )
    return getter(app)
