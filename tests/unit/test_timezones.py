"""IANA time-zone names: exact, case-sensitive membership in the tz database."""

from __future__ import annotations

import pytest

from service.domain.timezones import is_valid_timezone


@pytest.mark.parametrize(
    "name",
    [
        "Europe/London",
        "America/New_York",
        # Half-hour DST shift and a half-hour offset: zones that naive code gets wrong.
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "UTC",
    ],
)
def test_known_zones_are_valid(name: str) -> None:
    assert is_valid_timezone(name) is True


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Base",
        "../etc/passwd",
        "/usr/share/zoneinfo/Europe/London",
        "Europe/../Europe/London",
        "",
        " Europe/London",
        "Europe/London ",
        "europe/london",
        "EUROPE/LONDON",
        "+01:00",
    ],
)
def test_unknown_or_path_like_names_are_invalid(name: str) -> None:
    assert is_valid_timezone(name) is False
