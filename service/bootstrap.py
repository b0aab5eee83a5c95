"""What a process needs, built once from settings: the API, the scheduler and the
command line all start here, so they share one database, clock, knowledge base
and set of policies, built the same way."""

from __future__ import annotations

from dataclasses import dataclass

from service import knowledge
from service.config import Settings
from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.base import Notifier
from service.notify.factory import build_notifier
from service.runtime import login_policy, notifier_settings, open_database, reminder_policy
from service.usecases.context import Clock, utc_now
from service.usecases.reminders import ReminderPolicy
from service.usecases.security import Passwords, Tokens
from service.usecases.sessions import LoginPolicy


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """The collaborators use cases take, for one process."""

    settings: Settings
    db: Database
    clock: Clock
    passwords: Passwords
    tokens: Tokens
    login_policy: LoginPolicy
    knowledge: KnowledgeBase
    reminders: ReminderPolicy

    def notifier(self) -> Notifier:
        """The configured notifier, built on demand: only the scheduler sends, and
        the API must start even where the channel's credentials are not installed.
        ValueError names the MEDTRACK_ variable to fix."""
        return build_notifier(notifier_settings(self.settings))


def bootstrap(settings: Settings) -> Runtime:
    """Open the database and load the knowledge base; SettingsError when the
    database may not be used as configured (service.runtime.open_database)."""
    return Runtime(
        settings=settings,
        db=open_database(settings),
        clock=utc_now,
        passwords=Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        tokens=Tokens(secret_key=settings.secret_key, ttl_seconds=settings.token_ttl_seconds),
        login_policy=login_policy(settings),
        knowledge=knowledge.load(),
        reminders=reminder_policy(settings),
    )
