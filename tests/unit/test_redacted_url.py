"""Database URLs in log lines: no password, wherever the URL carries it."""

from __future__ import annotations

import pytest

from service.db.logs import redacted_url


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("postgresql://app:hunter22@db.internal:5432/medtrack", ["hunter22"]),
        ("postgresql://db.internal/medtrack?password=qs-secret", ["qs-secret"]),
        ("postgresql://u:one-secret@h/db?password=two-secret", ["one-secret", "two-secret"]),
        ("postgresql://h/db?sslpassword=key-secret&sslmode=require", ["key-secret"]),
    ],
)
def test_no_password_reaches_the_line(url: str, secrets: list[str]) -> None:
    shown = redacted_url(url)
    assert "***" in shown
    for secret in secrets:
        assert secret not in shown
    assert "db" in shown


def test_a_url_without_a_password_is_shown_as_it_is() -> None:
    assert redacted_url("sqlite:///./instance/medtrack.sqlite") == (
        "sqlite:///./instance/medtrack.sqlite"
    )
