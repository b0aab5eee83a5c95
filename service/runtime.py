"""Settings turned into what the entry points hand to use cases and adapters: the
database, the login and reminder policies, the notifier's settings.

service.bootstrap assembles them into one process's runtime.
"""

from __future__ import annotations

import datetime as dt

from service.config import Settings, SettingsError
from service.db.roles import unsafe_runtime_role
from service.db.uow import Database
from service.notify.factory import NotifierSettings
from service.usecases.reminders import ReminderPolicy
from service.usecases.sessions import LoginPolicy


def open_database(settings: Settings) -> Database:
    """The database the API, the scheduler and the command line use. In production
    it refuses a connection whose role could rewrite the audit trail: a superuser,
    the tables' owner, or a role granted more than the runtime privileges."""
    database = Database(
        settings.database_url,
        redis_url=settings.redis_url,
        login_window_seconds=settings.login_window_seconds,
    )
    if settings.env == "production":
        problems = unsafe_runtime_role(database.engine)
        if problems:
            database.dispose()
            raise SettingsError(
                "refusing to serve with MEDTRACK_DATABASE_URL's role: "
                + "; ".join(problems)
                + ". Connect as the runtime role that `medtrack db upgrade` grants "
                '(README, "Database roles").'
            )
    return database


def login_policy(settings: Settings) -> LoginPolicy:
    return LoginPolicy(
        max_failures=settings.login_max_failures,
        client_max_failures=settings.login_client_max_failures,
        max_delay_seconds=settings.login_max_delay_seconds,
        refresh_ttl=dt.timedelta(days=settings.refresh_ttl_days),
        reset_ttl=dt.timedelta(hours=settings.password_reset_ttl_hours),
    )


def reminder_policy(settings: Settings) -> ReminderPolicy:
    return ReminderPolicy(
        horizon=dt.timedelta(hours=settings.horizon_hours),
        catch_up=dt.timedelta(hours=settings.catch_up_hours),
        lead=dt.timedelta(minutes=settings.reminder_lead_minutes),
        expiry=dt.timedelta(minutes=settings.reminder_expiry_minutes),
        follow_up_after=dt.timedelta(minutes=settings.follow_up_minutes),
        missed_after=dt.timedelta(minutes=settings.missed_after_minutes),
        missed_in_a_row=settings.missed_in_a_row,
        lease=dt.timedelta(seconds=settings.claim_lease_seconds),
        batch=settings.dispatch_batch,
        max_attempts=settings.max_attempts,
        retry_base=dt.timedelta(seconds=settings.retry_base_seconds),
        retry_max=dt.timedelta(seconds=settings.retry_max_seconds),
        on_time=dt.timedelta(minutes=settings.on_time_minutes),
        refill_days=settings.refill_days,
        refill_days_withdrawal=settings.refill_days_withdrawal,
    )


def notifier_settings(settings: Settings) -> NotifierSettings:
    return NotifierSettings(
        kind=settings.notifier_channels,
        webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
        webhook_timeout_seconds=float(settings.webhook_timeout_seconds),
        vapid_private_key=settings.vapid_private_key,
        vapid_subject=settings.vapid_subject,
        fcm_credentials_file=settings.fcm_credentials,
        fcm_project_id=settings.fcm_project_id,
        fcm_endpoint=settings.fcm_endpoint,
        push_timeout_seconds=float(settings.push_timeout_seconds),
        breaker_failures=settings.breaker_failures,
        breaker_open_seconds=float(settings.breaker_open_seconds),
    )
