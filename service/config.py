"""Settings, read once from `MEDTRACK_*` environment variables."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET_KEY = "medtrack-development-secret-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "test", "production")


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe for the chosen environment."""


def _default_database_url() -> str:
    instance = Path.cwd() / "instance"
    return f"sqlite:///{instance / 'medtrack.sqlite'}"


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True, kw_only=True)
class Settings:
    env: str = "development"
    database_url: str = field(default_factory=_default_database_url)
    secret_key: str = DEV_SECRET_KEY
    token_ttl_seconds: int = 3600
    activation_ttl_hours: int = 72
    redis_url: str | None = None
    login_max_failures: int = 5
    login_window_seconds: int = 900
    # Argon2id cost; RFC 9106 second recommended option is t=3, m=64 MiB.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    max_body_bytes: int = 1_000_000
    # Reverse proxies in front of the API whose X-Forwarded-For/-Proto are
    # trusted; the client address feeds the login throttle and the audit log.
    trusted_proxies: int = 0
    workers: int = 2
    threads: int = 4
    log_level: str = "INFO"

    @property
    def activation_ttl(self) -> dt.timedelta:
        return dt.timedelta(hours=self.activation_ttl_hours)

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"MEDTRACK_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if self.env == "production" and (
            self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "MEDTRACK_SECRET_KEY must be set to a random value of at least 32 characters "
                "when MEDTRACK_ENV=production"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        defaults = cls.__dataclass_fields__
        return cls(
            env=e.get("MEDTRACK_ENV") or "development",
            database_url=e.get("MEDTRACK_DATABASE_URL") or _default_database_url(),
            secret_key=e.get("MEDTRACK_SECRET_KEY") or DEV_SECRET_KEY,
            token_ttl_seconds=_int(e, "MEDTRACK_TOKEN_TTL_SECONDS", 3600, low=60, high=2_592_000),
            activation_ttl_hours=_int(e, "MEDTRACK_ACTIVATION_TTL_HOURS", 72, low=1, high=720),
            redis_url=e.get("MEDTRACK_REDIS_URL") or None,
            login_max_failures=_int(e, "MEDTRACK_LOGIN_MAX_FAILURES", 5, low=1, high=1000),
            login_window_seconds=_int(e, "MEDTRACK_LOGIN_WINDOW_SECONDS", 900, low=1, high=86400),
            argon2_time_cost=_int(e, "MEDTRACK_ARGON2_TIME_COST", 3, low=1, high=20),
            argon2_memory_kib=_int(e, "MEDTRACK_ARGON2_MEMORY_KIB", 65536, low=8, high=4_194_304),
            max_body_bytes=_int(e, "MEDTRACK_MAX_BODY_BYTES", 1_000_000, low=1024, high=50_000_000),
            trusted_proxies=_int(e, "MEDTRACK_TRUSTED_PROXIES", 0, low=0, high=5),
            workers=_int(e, "MEDTRACK_WORKERS", 2, low=1, high=64),
            threads=_int(e, "MEDTRACK_THREADS", 4, low=1, high=64),
            log_level=e.get("MEDTRACK_LOG_LEVEL", str(defaults["log_level"].default)).upper(),
        )
