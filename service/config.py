"""Settings, read once from `MEDTRACK_*` environment variables."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

DEV_SECRET_KEY = "medtrack-development-secret-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "test", "production")
N = TypeVar("N", int, float)


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe for the chosen environment."""


def _default_database_url() -> str:
    instance = Path.cwd() / "instance"
    return f"sqlite:///{instance / 'medtrack.sqlite'}"


def _number(
    env: Mapping[str, str],
    name: str,
    default: N,
    *,
    low: N,
    high: N,
    parse: Callable[[str], N],
    kind: str,
) -> N:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be {kind}, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    return _number(env, name, default, low=low, high=high, parse=int, kind="a whole number")


def _float(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    return _number(env, name, default, low=low, high=high, parse=float, kind="a number")


@dataclass(frozen=True, kw_only=True)
class Settings:
    env: str = "development"
    database_url: str = field(default_factory=_default_database_url)
    # PostgreSQL: `medtrack db upgrade` migrates as the tables' owner (this URL) and
    # grants the runtime role (the user of database_url, or the one named here)
    # what the API and the scheduler need; see service.db.roles.
    migration_database_url: str | None = field(default=None, repr=False)
    database_runtime_role: str | None = None
    secret_key: str = field(default=DEV_SECRET_KEY, repr=False)
    # Access tokens are short-lived; a device stays signed in through its refresh
    # token, which is exchanged for a new one at each use.
    token_ttl_seconds: int = 900
    refresh_ttl_days: int = 30
    activation_ttl_hours: int = 72
    password_reset_ttl_hours: int = 24
    redis_url: str | None = None
    # Failed logins: free attempts for one account from one client before each
    # further one doubles the wait (up to the maximum); a client's failures over
    # every account within the window are capped; the owner is told at the limit.
    login_max_failures: int = 5
    login_window_seconds: int = 900
    login_max_delay_seconds: int = 900
    login_client_max_failures: int = 50
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
    # Reminders: the notifier and its settings (see service.notify.factory).
    notifier: str = "log"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    webhook_timeout_seconds: float = 5.0
    vapid_private_key: str | None = field(default=None, repr=False)
    vapid_subject: str | None = None
    fcm_credentials: str | None = None
    fcm_project_id: str | None = None
    fcm_endpoint: str | None = None
    # Dispatch under a slow receiver (service.notify.deadline, .breaker): the total
    # deadline of one Web Push or FCM send, the slow sends in a row that open an
    # endpoint's circuit and how long it stays open, and the threads that send to
    # different recipients side by side.
    push_timeout_seconds: int = 10
    breaker_failures: int = 3
    breaker_open_seconds: int = 30
    dispatch_threads: int = 8
    # Reminders: planning, dispatch and follow-up timings (README, "Reminders").
    horizon_hours: int = 48
    catch_up_hours: int = 24
    reminder_lead_minutes: int = 10
    reminder_expiry_minutes: int = 120
    follow_up_minutes: int = 30
    missed_after_minutes: int = 120
    missed_in_a_row: int = 3
    dispatch_interval_seconds: float = 0.5
    dispatch_batch: int = 1000
    claim_lease_seconds: int = 60
    max_attempts: int = 8
    retry_base_seconds: int = 10
    retry_max_seconds: int = 900
    on_time_minutes: int = 60

    @property
    def activation_ttl(self) -> dt.timedelta:
        return dt.timedelta(hours=self.activation_ttl_hours)

    def __post_init__(self) -> None:
        if self.claim_lease_seconds < 4 * self.webhook_timeout_seconds:
            raise SettingsError(
                "MEDTRACK_CLAIM_LEASE_SECONDS must be at least 4 times "
                "MEDTRACK_WEBHOOK_TIMEOUT_SECONDS, so a claim outlasts the sends made under it"
            )
        if self.notifier in ("webpush", "fcm") and (
            self.claim_lease_seconds < 4 * self.push_timeout_seconds
        ):
            raise SettingsError(
                "MEDTRACK_CLAIM_LEASE_SECONDS must be at least 4 times "
                "MEDTRACK_PUSH_TIMEOUT_SECONDS, so a claim outlasts the sends made under it"
            )
        if self.follow_up_minutes >= self.missed_after_minutes:
            raise SettingsError(
                "MEDTRACK_FOLLOW_UP_MINUTES must be less than MEDTRACK_MISSED_AFTER_MINUTES"
            )
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"MEDTRACK_ENV must be one of {', '.join(ENVIRONMENTS)}")
        if (
            self.env == "production"
            and self.webhook_url
            and not self.webhook_url.lower().startswith("https://")
        ):
            # The webhook carries patients' reminders and is signed, not encrypted.
            raise SettingsError(
                "MEDTRACK_WEBHOOK_URL must be an https:// URL when MEDTRACK_ENV=production"
            )
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
            migration_database_url=e.get("MEDTRACK_MIGRATION_DATABASE_URL") or None,
            database_runtime_role=e.get("MEDTRACK_DATABASE_RUNTIME_ROLE") or None,
            secret_key=e.get("MEDTRACK_SECRET_KEY") or DEV_SECRET_KEY,
            token_ttl_seconds=_int(e, "MEDTRACK_TOKEN_TTL_SECONDS", 900, low=60, high=2_592_000),
            refresh_ttl_days=_int(e, "MEDTRACK_REFRESH_TTL_DAYS", 30, low=1, high=365),
            activation_ttl_hours=_int(e, "MEDTRACK_ACTIVATION_TTL_HOURS", 72, low=1, high=720),
            password_reset_ttl_hours=_int(
                e, "MEDTRACK_PASSWORD_RESET_TTL_HOURS", 24, low=1, high=168
            ),
            redis_url=e.get("MEDTRACK_REDIS_URL") or None,
            login_max_failures=_int(e, "MEDTRACK_LOGIN_MAX_FAILURES", 5, low=1, high=1000),
            login_window_seconds=_int(e, "MEDTRACK_LOGIN_WINDOW_SECONDS", 900, low=1, high=86400),
            login_max_delay_seconds=_int(
                e, "MEDTRACK_LOGIN_MAX_DELAY_SECONDS", 900, low=1, high=86400
            ),
            login_client_max_failures=_int(
                e, "MEDTRACK_LOGIN_CLIENT_MAX_FAILURES", 50, low=1, high=100_000
            ),
            argon2_time_cost=_int(e, "MEDTRACK_ARGON2_TIME_COST", 3, low=1, high=20),
            argon2_memory_kib=_int(e, "MEDTRACK_ARGON2_MEMORY_KIB", 65536, low=8, high=4_194_304),
            max_body_bytes=_int(e, "MEDTRACK_MAX_BODY_BYTES", 1_000_000, low=1024, high=50_000_000),
            trusted_proxies=_int(e, "MEDTRACK_TRUSTED_PROXIES", 0, low=0, high=5),
            workers=_int(e, "MEDTRACK_WORKERS", 2, low=1, high=64),
            threads=_int(e, "MEDTRACK_THREADS", 4, low=1, high=64),
            log_level=e.get("MEDTRACK_LOG_LEVEL", str(defaults["log_level"].default)).upper(),
            notifier=e.get("MEDTRACK_NOTIFIER") or "log",
            webhook_url=e.get("MEDTRACK_WEBHOOK_URL") or None,
            webhook_secret=e.get("MEDTRACK_WEBHOOK_SECRET") or None,
            webhook_timeout_seconds=_int(e, "MEDTRACK_WEBHOOK_TIMEOUT_SECONDS", 5, low=1, high=60),
            vapid_private_key=e.get("MEDTRACK_VAPID_PRIVATE_KEY") or None,
            vapid_subject=e.get("MEDTRACK_VAPID_SUBJECT") or None,
            fcm_credentials=e.get("MEDTRACK_FCM_CREDENTIALS") or None,
            fcm_project_id=e.get("MEDTRACK_FCM_PROJECT_ID") or None,
            fcm_endpoint=e.get("MEDTRACK_FCM_ENDPOINT") or None,
            push_timeout_seconds=_int(e, "MEDTRACK_PUSH_TIMEOUT_SECONDS", 10, low=1, high=60),
            breaker_failures=_int(e, "MEDTRACK_BREAKER_FAILURES", 3, low=1, high=1000),
            breaker_open_seconds=_int(e, "MEDTRACK_BREAKER_OPEN_SECONDS", 30, low=1, high=3600),
            dispatch_threads=_int(e, "MEDTRACK_DISPATCH_THREADS", 8, low=1, high=64),
            horizon_hours=_int(e, "MEDTRACK_HORIZON_HOURS", 48, low=24, high=336),
            catch_up_hours=_int(e, "MEDTRACK_CATCH_UP_HOURS", 24, low=1, high=168),
            reminder_lead_minutes=_int(e, "MEDTRACK_REMINDER_LEAD_MINUTES", 10, low=1, high=120),
            reminder_expiry_minutes=_int(
                e, "MEDTRACK_REMINDER_EXPIRY_MINUTES", 120, low=5, high=1440
            ),
            follow_up_minutes=_int(e, "MEDTRACK_FOLLOW_UP_MINUTES", 30, low=5, high=720),
            missed_after_minutes=_int(e, "MEDTRACK_MISSED_AFTER_MINUTES", 120, low=10, high=2880),
            missed_in_a_row=_int(e, "MEDTRACK_MISSED_IN_A_ROW", 3, low=1, high=50),
            dispatch_interval_seconds=_float(
                e, "MEDTRACK_DISPATCH_INTERVAL_SECONDS", 0.5, low=0.1, high=60
            ),
            dispatch_batch=_int(e, "MEDTRACK_DISPATCH_BATCH", 1000, low=1, high=10000),
            claim_lease_seconds=_int(e, "MEDTRACK_CLAIM_LEASE_SECONDS", 60, low=5, high=3600),
            max_attempts=_int(e, "MEDTRACK_MAX_ATTEMPTS", 8, low=1, high=50),
            retry_base_seconds=_int(e, "MEDTRACK_RETRY_BASE_SECONDS", 10, low=1, high=3600),
            retry_max_seconds=_int(e, "MEDTRACK_RETRY_MAX_SECONDS", 900, low=1, high=86400),
            on_time_minutes=_int(e, "MEDTRACK_ON_TIME_MINUTES", 60, low=1, high=720),
        )
