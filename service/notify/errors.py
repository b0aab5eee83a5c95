"""One classification of HTTP outcomes for every adapter, so "transient" means the same
thing whichever channel failed.

Transient: 408 (the receiver timed out), 429 (rate limited), any 5xx, timeouts and
connection failures. Everything else that is not 2xx is permanent: retrying an
identical request cannot change a 400, 401, 403 or 413.
"""

from __future__ import annotations

import datetime as dt
import email.utils

import requests

from service.notify.base import DeliveryError

TRANSIENT_STATUSES = frozenset({408, 429})
# A Retry-After of days is a misconfigured receiver, not a plan: cap what we honour.
MAX_RETRY_AFTER_SECONDS = 6 * 3600.0


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUSES or status >= 500


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    current = now or dt.datetime.now(dt.UTC)
    seconds = (when - current).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def error_for_status(
    status: int, *, retry_after: str | None = None, what: str, detail: str = ""
) -> DeliveryError:
    """The DeliveryError for a non-2xx response from `what` (e.g. "webhook")."""
    suffix = f": {detail[:200]}" if detail else ""
    if is_transient_status(status):
        return DeliveryError(
            f"{what} answered HTTP {status}{suffix}",
            transient=True,
            retry_after=parse_retry_after(retry_after),
        )
    return DeliveryError(f"{what} refused with HTTP {status}{suffix}", transient=False)


def error_for_request_failure(exc: requests.RequestException, *, what: str) -> DeliveryError:
    """No response at all: a bad URL is permanent, anything on the wire is transient."""
    kind = type(exc).__name__
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return DeliveryError(f"{what} URL is invalid ({kind})", transient=False)
    if isinstance(exc, requests.exceptions.InvalidSchema):
        return DeliveryError(f"{what} URL scheme is not supported ({kind})", transient=False)
    if isinstance(exc, requests.Timeout):
        return DeliveryError(f"{what} timed out ({kind})", transient=True)
    return DeliveryError(f"{what} unreachable ({kind})", transient=True)


def deadline_error(*, what: str, seconds: float) -> DeliveryError:
    """The send was cut at its total deadline (service.notify.deadline): transient."""
    return DeliveryError(f"{what} timed out: no full answer within {seconds:g} s", transient=True)
