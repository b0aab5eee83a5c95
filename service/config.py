"""Settings, read once from `MEDTRACK_*` environment variables.

Each setting is declared once, as a field of `Settings`: its default and how its
variable (MEDTRACK_ and the field's name in capitals) is read and bounded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import jwt

DEV_SECRET_KEY = "medtrack-development-secret-do-not-use-in-production"  # noqa: S105
ENVIRONMENTS = ("development", "test", "production")
N = TypeVar("N", int, float)
# Field metadata key: the reader that turns the variable's (non-empty) text into the value.
_READ = "medtrack.read"


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe for the chosen environment."""


# The notifier channels (service.notify.channels.CHANNELS), checked when settings load.
NOTIFIER_CHANNELS = ("log", "webhook", "webpush", "fcm")


def variable(name: str) -> str:
    """The environment variable of the setting `name`."""
    return f"MEDTRACK_{name.upper()}"


def _default_database_url() -> str:
    instance = Path.cwd() / "instance"
    return f"sqlite:///{instance / 'medtrack.sqlite'}"


def _verbatim(_variable: str, raw: str) -> str:
    return raw


def _number(variable: str, raw: str, *, parse: Callable[[str], N], kind: str, low: N, high: N) -> N:
    try:
        value = parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{variable} must be {kind}, got {raw!r}") from exc
    if not low <= value <= high:
        raise SettingsError(f"{variable} must be between {low} and {high}, got {value}")
    return value


# A browser origin: scheme, host and an optional port; no path, no wildcard.
_ORIGIN = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)


def _origins(variable: str, raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip() for o in raw.split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise SettingsError(
                f"{variable} must list origins such as https://app.example.org "
                f"(scheme, host, optional port; comma-separated), got {origin!r}"
            )
    return tuple(o.lower() for o in origins)


@dataclass(frozen=True)
class CdsClient:
    """An EHR trusted to call the CDS Hooks service: the `iss` of its JWTs, the public
    keys (a JWK Set's `keys`) that verify them, and the identifier system its
    `context.patientId` belongs to, which links its patients to medtrack's."""

    iss: str
    keys: tuple[dict[str, Any], ...]
    patient_system: str | None = None


_CDS_CLIENT_FIELDS = frozenset({"iss", "jwks", "patient_system"})
_CDS_KEY_TYPES = frozenset({"EC", "RSA"})


def _cds_client(variable: str, i: int, entry: object) -> CdsClient:
    where = f"{variable}[{i}]"
    if not isinstance(entry, dict):
        raise SettingsError(f"{where} must be an object with iss and jwks")
    unknown = sorted(set(entry) - _CDS_CLIENT_FIELDS)
    if unknown:
        raise SettingsError(f"{where} has unknown fields: {', '.join(unknown)}")
    iss, jwks, system = entry.get("iss"), entry.get("jwks"), entry.get("patient_system")
    if not isinstance(iss, str) or not iss.strip() or len(iss) > 255:
        raise SettingsError(f"{where}.iss must be the issuer's URI (1 to 255 characters)")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys:
        raise SettingsError(f'{where}.jwks must be a JWK Set: {{"keys": [ ...public keys... ]}}')
    for k, key in enumerate(keys):
        if not isinstance(key, dict) or key.get("kty") not in _CDS_KEY_TYPES:
            raise SettingsError(f"{where}.jwks.keys[{k}] must be an EC or RSA public key (kty)")
        if not isinstance(key.get("kid"), str) or not key["kid"]:
            raise SettingsError(f"{where}.jwks.keys[{k}] must have a kid")
        if "d" in key:
            raise SettingsError(f"{where}.jwks.keys[{k}] is a private key: give the public key")
        try:
            jwt.PyJWK(key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise SettingsError(f"{where}.jwks.keys[{k}] is not a usable key: {exc}") from exc
    if system is not None and (
        not isinstance(system, str) or not system.strip() or len(system) > 255
    ):
        raise SettingsError(f"{where}.patient_system must be an identifier system URI")
    return CdsClient(iss=iss, keys=tuple(keys), patient_system=system)


def _cds_clients(variable: str, raw: str) -> tuple[CdsClient, ...]:
    """A JSON list of the EHRs trusted to call the CDS Hooks service."""
    try:
        entries = json.loads(raw)
    except ValueError as exc:
        raise SettingsError(f"{variable} must be JSON: {exc}") from exc
    if not isinstance(entries, list):
        raise SettingsError(f'{variable} must be a JSON list of {{"iss", "jwks"}} objects')
    clients = tuple(_cds_client(variable, i, e) for i, e in enumerate(entries))
    issuers = [c.iss for c in clients]
    if len(set(issuers)) != len(issuers):
        raise SettingsError(f"{variable} names an issuer twice")
    return clients


# The address clients reach the service at: scheme, host, optional port and path.
_PUBLIC_URL = re.compile(
    r"https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?"
)


def _public_url(variable: str, raw: str) -> str:
    url = raw.strip().rstrip("/")
    if not _PUBLIC_URL.fullmatch(url):
        raise SettingsError(
            f"{variable} must be the URL clients reach the service at, such as "
            f"https://medtrack.example.org (no query), got {raw!r}"
        )
    return url


def text(default: str, *, secret: bool = False, normalise: Callable[[str], str] = str) -> str:
    """A string setting; an empty variable keeps the default."""
    return field(
        default=default,
        repr=not secret,
        metadata={_READ: lambda _variable, raw: normalise(raw)},
    )


def optional_text(*, secret: bool = False) -> str | None:
    """A string setting that may be unset; an empty variable leaves it unset."""
    return field(default=None, repr=not secret, metadata={_READ: _verbatim})


def whole(default: int, *, low: int, high: int) -> int:
    """A whole number between `low` and `high`, both allowed."""
    read = partial(_number, parse=int, kind="a whole number", low=low, high=high)
    return field(default=default, metadata={_READ: read})


def number(default: float, *, low: float, high: float) -> float:
    """A number, fractions allowed, between `low` and `high`, both allowed."""
    read = partial(_number, parse=float, kind="a number", low=low, high=high)
    return field(default=default, metadata={_READ: read})


@dataclass(frozen=True, kw_only=True)
class Settings:
    env: str = text("development")
    database_url: str = field(default_factory=_default_database_url, metadata={_READ: _verbatim})
    # PostgreSQL: `medtrack db upgrade` migrates as the tables' owner (this URL) and
    # grants the runtime role (the user of database_url, or the one named here)
    # what the API and the scheduler need; see service.db.roles.
    migration_database_url: str | None = optional_text(secret=True)
    database_runtime_role: str | None = optional_text()
    secret_key: str = text(DEV_SECRET_KEY, secret=True)
    # Access tokens are short-lived; a device stays signed in through its refresh
    # token, which is exchanged for a new one at each use.
    token_ttl_seconds: int = whole(900, low=60, high=2_592_000)
    refresh_ttl_days: int = whole(30, low=1, high=365)
    activation_ttl_hours: int = whole(72, low=1, high=720)
    password_reset_ttl_hours: int = whole(24, low=1, high=168)
    # How long the answer to a request sent with an Idempotency-Key is replayed to its
    # retries: at least a day, so an app offline overnight still retries safely.
    idempotency_ttl_hours: int = whole(24, low=24, high=720)
    redis_url: str | None = optional_text()
    # Failed logins: free attempts for one account from one client before each
    # further one doubles the wait (up to the maximum); a client's failures over
    # every account within the window are capped; the owner is told at the limit.
    login_max_failures: int = whole(5, low=1, high=1000)
    login_window_seconds: int = whole(900, low=1, high=86400)
    login_max_delay_seconds: int = whole(900, low=1, high=86400)
    login_client_max_failures: int = whole(50, low=1, high=100_000)
    # Argon2id cost; RFC 9106 second recommended option is t=3, m=64 MiB.
    argon2_time_cost: int = whole(3, low=1, high=20)
    argon2_memory_kib: int = whole(65536, low=8, high=4_194_304)
    max_body_bytes: int = whole(1_000_000, low=1024, high=50_000_000)
    # Browser apps on these exact origins may call the JSON API (CORS); none by default.
    cors_origins: tuple[str, ...] = field(default=(), metadata={_READ: _origins})
    # Reverse proxies in front of the API whose X-Forwarded-For/-Proto are
    # trusted; the client address feeds the login throttle and the audit log.
    trusted_proxies: int = whole(0, low=0, high=5)
    workers: int = whole(2, low=1, high=64)
    threads: int = whole(4, low=1, high=64)
    log_level: str = text("INFO", normalise=str.upper)
    # Reminders: the channels that run (comma-separated, e.g. "webpush,fcm,webhook";
    # MEDTRACK_NOTIFIER is the older name for the same list) and their settings
    # (service.notify.factory, service.notify.channels).
    notifiers: str | None = optional_text()
    notifier: str = text("log")
    webhook_url: str | None = optional_text()
    webhook_secret: str | None = optional_text(secret=True)
    webhook_timeout_seconds: int = whole(5, low=1, high=60)
    vapid_private_key: str | None = optional_text(secret=True)
    vapid_subject: str | None = optional_text()
    fcm_credentials: str | None = optional_text()
    fcm_project_id: str | None = optional_text()
    fcm_endpoint: str | None = optional_text()
    # Dispatch under a slow receiver (service.notify.deadline, .breaker): the total
    # deadline of one Web Push or FCM send, the slow sends in a row that open an
    # endpoint's circuit and how long it stays open, and the threads that send to
    # different recipients side by side.
    push_timeout_seconds: int = whole(10, low=1, high=60)
    breaker_failures: int = whole(3, low=1, high=1000)
    breaker_open_seconds: int = whole(30, low=1, high=3600)
    dispatch_threads: int = whole(8, low=1, high=64)
    # Reminders: planning, dispatch and follow-up timings (README, "Reminders").
    horizon_hours: int = whole(48, low=24, high=336)
    catch_up_hours: int = whole(24, low=1, high=168)
    reminder_lead_minutes: int = whole(10, low=1, high=120)
    reminder_expiry_minutes: int = whole(120, low=5, high=1440)
    follow_up_minutes: int = whole(30, low=5, high=720)
    missed_after_minutes: int = whole(120, low=10, high=2880)
    missed_in_a_row: int = whole(3, low=1, high=50)
    dispatch_interval_seconds: float = number(0.5, low=0.1, high=60)
    dispatch_batch: int = whole(1000, low=1, high=10000)
    claim_lease_seconds: int = whole(60, low=5, high=3600)
    max_attempts: int = whole(8, low=1, high=50)
    retry_base_seconds: int = whole(10, low=1, high=3600)
    retry_max_seconds: int = whole(900, low=1, high=86400)
    on_time_minutes: int = whole(60, low=1, high=720)
    # Refills (README, "Supply and refills"): a refill is due when a formulation lasts
    # fewer days than this, or than the second for a withdrawal-risk drug.
    refill_days: int = whole(7, low=1, high=90)
    refill_days_withdrawal: int = whole(10, low=1, high=90)
    # The EHRs trusted to call the CDS Hooks service (docs/interop.md): a JSON list of
    # {"iss", "jwks": {"keys": [...]}, "patient_system"}. None in development lets
    # unauthenticated calls from loopback through, logged as such.
    cds_clients: tuple[CdsClient, ...] = field(default=(), metadata={_READ: _cds_clients})
    # The URL clients reach the service at (behind a proxy, the proxy's): a CDS Hooks
    # JWT's audience is checked against it, and links in cards start with it. Unset,
    # the request's own URL is used; in production, with CDS clients, it must be set.
    public_url: str | None = field(default=None, metadata={_READ: _public_url})

    @property
    def activation_ttl(self) -> dt.timedelta:
        return dt.timedelta(hours=self.activation_ttl_hours)

    @property
    def idempotency_ttl(self) -> dt.timedelta:
        return dt.timedelta(hours=self.idempotency_ttl_hours)

    @property
    def notifier_channels(self) -> str:
        """The configured channels: MEDTRACK_NOTIFIERS, else MEDTRACK_NOTIFIER."""
        return self.notifiers or self.notifier

    def __post_init__(self) -> None:
        if self.claim_lease_seconds < 4 * self.webhook_timeout_seconds:
            raise SettingsError(
                "MEDTRACK_CLAIM_LEASE_SECONDS must be at least 4 times "
                "MEDTRACK_WEBHOOK_TIMEOUT_SECONDS, so a claim outlasts the sends made under it"
            )
        channels = {c.strip().lower() for c in self.notifier_channels.split(",")} - {""}
        if not channels or channels - set(NOTIFIER_CHANNELS):
            raise SettingsError(
                "MEDTRACK_NOTIFIERS must list channels among "
                f"{', '.join(NOTIFIER_CHANNELS)}, comma-separated"
            )
        if channels & {"webpush", "fcm"} and (
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
        if self.env == "production" and self.cds_clients and not self.public_url:
            raise SettingsError(
                "MEDTRACK_PUBLIC_URL must be set when MEDTRACK_CDS_CLIENTS is, with "
                "MEDTRACK_ENV=production: a CDS Hooks JWT's audience is checked against it"
            )
        if self.env == "production" and (
            self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32
        ):
            raise SettingsError(
                "MEDTRACK_SECRET_KEY must be set to a random value of at least 32 characters "
                "when MEDTRACK_ENV=production"
            )

    def warnings(self) -> list[str]:
        """What a serving process says once as it starts: settings that are allowed
        here but would not be in production."""
        if self.env == "development" and self.secret_key == DEV_SECRET_KEY:
            return ["MEDTRACK_SECRET_KEY is the development default: tokens are forgeable"]
        return []

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting from its MEDTRACK_ variable in `env` (by default the process
        environment); an absent or empty variable keeps the setting's default."""
        source = os.environ if env is None else env
        given: dict[str, Any] = {}
        for setting in fields(cls):
            name = variable(setting.name)
            raw = source.get(name)
            if raw:
                given[setting.name] = setting.metadata[_READ](name, raw)
        return cls(**given)
