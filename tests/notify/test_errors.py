"""HTTP outcome classification and Retry-After parsing shared by the adapters."""

from __future__ import annotations

import datetime as dt

import pytest

from service.notify.errors import error_for_status, is_transient_status, parse_retry_after

NOW = dt.datetime(2025, 3, 30, 6, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "transient"),
    [(408, True), (429, True), (500, True), (503, True), (400, False), (410, False)],
)
def test_transient_statuses(status: int, transient: bool) -> None:
    assert is_transient_status(status) is transient
    assert error_for_status(status, what="receiver").transient is transient


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sun, 30 Mar 2025 06:01:30 GMT", 90.0),
        ("Sun, 30 Mar 2025 05:00:00 GMT", 0.0),
        ("99999999", 6 * 3600.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds
