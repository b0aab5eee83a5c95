"""Settings read from MEDTRACK_* variables: defaults, parsing, range checks, safety."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from service.config import DEV_SECRET_KEY, Settings, SettingsError

# (variable, attribute, default, lowest allowed, highest allowed)
INTS = [
    ("MEDTRACK_TOKEN_TTL_SECONDS", "token_ttl_seconds", 900, 60, 2_592_000),
    ("MEDTRACK_REFRESH_TTL_DAYS", "refresh_ttl_days", 30, 1, 365),
    ("MEDTRACK_ACTIVATION_TTL_HOURS", "activation_ttl_hours", 72, 1, 720),
    ("MEDTRACK_PASSWORD_RESET_TTL_HOURS", "password_reset_ttl_hours", 24, 1, 168),
    ("MEDTRACK_LOGIN_MAX_FAILURES", "login_max_failures", 5, 1, 1000),
    ("MEDTRACK_LOGIN_WINDOW_SECONDS", "login_window_seconds", 900, 1, 86400),
    ("MEDTRACK_LOGIN_MAX_DELAY_SECONDS", "login_max_delay_seconds", 900, 1, 86400),
    ("MEDTRACK_LOGIN_CLIENT_MAX_FAILURES", "login_client_max_failures", 50, 1, 100_000),
    ("MEDTRACK_ARGON2_TIME_COST", "argon2_time_cost", 3, 1, 20),
    ("MEDTRACK_ARGON2_MEMORY_KIB", "argon2_memory_kib", 65536, 8, 4_194_304),
    ("MEDTRACK_MAX_BODY_BYTES", "max_body_bytes", 1_000_000, 1024, 50_000_000),
    ("MEDTRACK_WORKERS", "workers", 2, 1, 64),
    ("MEDTRACK_THREADS", "threads", 4, 1, 64),
]
STRONG_SECRET = "s3cr3t-" + "x" * 25  # exactly 32 characters


def test_defaults_from_an_empty_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings.from_env({})
    assert s.env == "development"
    assert s.secret_key == DEV_SECRET_KEY
    assert s.database_url == f"sqlite:///{tmp_path / 'instance' / 'medtrack.sqlite'}"
    assert s.redis_url is None
    assert s.log_level == "INFO"
    assert s.activation_ttl == dt.timedelta(hours=72)
    for _, attr, default, _, _ in INTS:
        assert getattr(s, attr) == default, attr


def test_from_env_does_not_read_the_process_environment_when_given_a_dict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEDTRACK_WORKERS", "9")
    assert Settings.from_env({}).workers == 2
    assert Settings.from_env().workers == 9


def test_string_settings_are_taken_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "MEDTRACK_ENV": "test",
            "MEDTRACK_DATABASE_URL": "postgresql://db/medtrack",
            "MEDTRACK_REDIS_URL": "redis://cache:6379/0",
            "MEDTRACK_LOG_LEVEL": "debug",
            "MEDTRACK_SECRET_KEY": "anything goes outside production",
        }
    )
    assert (s.env, s.database_url, s.redis_url, s.log_level, s.secret_key) == (
        "test",
        "postgresql://db/medtrack",
        "redis://cache:6379/0",
        "DEBUG",
        "anything goes outside production",
    )


@pytest.mark.parametrize(
    ("name", "attr", "expected"),
    [
        ("MEDTRACK_REDIS_URL", "redis_url", None),
        ("MEDTRACK_SECRET_KEY", "secret_key", DEV_SECRET_KEY),
    ],
)
def test_empty_optional_strings_fall_back(name: str, attr: str, expected: str | None) -> None:
    assert getattr(Settings.from_env({name: ""}), attr) == expected


@pytest.mark.parametrize(("name", "attr", "default", "low", "high"), INTS)
def test_int_settings_accept_their_whole_range(
    name: str, attr: str, default: int, low: int, high: int
) -> None:
    for value in (low, high, (low + high) // 2):
        assert getattr(Settings.from_env({name: str(value)}), attr) == value
    assert getattr(Settings.from_env({name: ""}), attr) == default


@pytest.mark.parametrize(("name", "attr", "default", "low", "high"), INTS)
def test_int_settings_out_of_range_are_refused_by_name(
    name: str, attr: str, default: int, low: int, high: int
) -> None:
    for value in (low - 1, high + 1):
        with pytest.raises(SettingsError, match=rf"^{name} must be between {low} and {high}"):
            Settings.from_env({name: str(value)})


@pytest.mark.parametrize(("name", "attr", "default", "low", "high"), INTS)
@pytest.mark.parametrize("raw", ["ten", "1.5", "0x10", "1e3"])
def test_int_settings_that_are_not_whole_numbers_are_refused_by_name(
    name: str, attr: str, default: int, low: int, high: int, raw: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^{name} must be a whole number") as info:
        Settings.from_env({name: raw})
    assert raw in str(info.value)


@pytest.mark.parametrize("secret", [None, "", DEV_SECRET_KEY, "x" * 31, "short"])
def test_production_refuses_the_development_secret_and_short_ones(secret: str | None) -> None:
    env = {"MEDTRACK_ENV": "production"}
    if secret is not None:
        env["MEDTRACK_SECRET_KEY"] = secret
    with pytest.raises(SettingsError, match="MEDTRACK_SECRET_KEY"):
        Settings.from_env(env)


@pytest.mark.parametrize("secret", [STRONG_SECRET, "y" * 64])
def test_production_accepts_a_long_random_secret(secret: str) -> None:
    assert len(STRONG_SECRET) == 32
    s = Settings.from_env({"MEDTRACK_ENV": "production", "MEDTRACK_SECRET_KEY": secret})
    assert (s.env, s.secret_key) == ("production", secret)


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_and_test_accept_the_development_secret(env: str) -> None:
    assert Settings.from_env({"MEDTRACK_ENV": env}).secret_key == DEV_SECRET_KEY


@pytest.mark.parametrize("env", ["staging", "prod", "Production", "PRODUCTION", "dev"])
def test_unknown_environment_is_refused(env: str) -> None:
    with pytest.raises(SettingsError, match="MEDTRACK_ENV"):
        Settings.from_env({"MEDTRACK_ENV": env, "MEDTRACK_SECRET_KEY": STRONG_SECRET})


def test_settings_built_directly_are_checked_too() -> None:
    with pytest.raises(SettingsError):
        Settings(env="production")
    with pytest.raises(SettingsError):
        Settings(env="qa")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        (
            {"MEDTRACK_CLAIM_LEASE_SECONDS": "20", "MEDTRACK_WEBHOOK_TIMEOUT_SECONDS": "10"},
            "MEDTRACK_CLAIM_LEASE_SECONDS",
        ),
        (
            {"MEDTRACK_FOLLOW_UP_MINUTES": "120", "MEDTRACK_MISSED_AFTER_MINUTES": "120"},
            "MEDTRACK_FOLLOW_UP_MINUTES",
        ),
    ],
)
def test_reminder_timings_that_contradict_each_other_are_refused(
    env: dict[str, str], fragment: str
) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_reminder_settings_are_read_by_name() -> None:
    s = Settings.from_env(
        {
            "MEDTRACK_NOTIFIER": "webhook",
            "MEDTRACK_WEBHOOK_URL": "https://hooks.example.org/medtrack",
            "MEDTRACK_HORIZON_HOURS": "72",
            "MEDTRACK_MISSED_IN_A_ROW": "2",
        }
    )
    assert (s.notifier, s.webhook_url, s.horizon_hours, s.missed_in_a_row) == (
        "webhook",
        "https://hooks.example.org/medtrack",
        72,
        2,
    )


def test_the_dispatch_interval_takes_fractions_of_a_second() -> None:
    name = "MEDTRACK_DISPATCH_INTERVAL_SECONDS"
    assert Settings.from_env({}).dispatch_interval_seconds == 0.5
    assert Settings.from_env({name: "0.25"}).dispatch_interval_seconds == 0.25
    assert Settings.from_env({name: "2"}).dispatch_interval_seconds == 2.0
    for value in ("0.05", "61", "0"):
        with pytest.raises(SettingsError, match=rf"^{name} must be between 0.1 and 60"):
            Settings.from_env({name: value})
    with pytest.raises(SettingsError, match=rf"^{name} must be a number"):
        Settings.from_env({name: "half a second"})
