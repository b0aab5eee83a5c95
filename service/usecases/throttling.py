"""Counting login attempts: which keys an attempt counts against, and the 429."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.db.uow import UnitOfWork
from service.domain.accounts import client_group
from service.usecases.errors import RateLimited
from service.usecases.sessions import LoginPolicy


@dataclass(frozen=True, kw_only=True)
class LoginKeys:
    """Throttle keys of one login attempt.

    `pair` (this account from this client) is slowed down progressively and cleared
    by a success from that client: the known device. `client` caps one client's
    failures over every account, except for an account that has signed in from that
    client before (`known`), so that guesses from a shared address (a clinic's or a
    carrier's NAT) cannot keep the people behind it out of their own accounts.
    `account` counts failures from anywhere, only to tell the owner: nothing locks
    the account itself, so no one can lock its owner out by guessing.
    """

    pair: str
    client: str | None
    account: str
    known: str


def login_keys(email: str, source_ip: str | None) -> LoginKeys:
    group = client_group(source_ip)
    return LoginKeys(
        pair=f"login-pair:{email}|{group or '-'}",
        client=f"login-client:{group}" if group else None,
        account=f"login-account:{email}",
        known=f"login-known:{email}|{group or '-'}",
    )


def pace(uow: UnitOfWork, keys: LoginKeys, policy: LoginPolicy, now: dt.datetime) -> None:
    """Count this attempt and make the count visible at once.

    Committed before the (slow) password check, so that parallel guesses see
    each other; a pair that must still wait, or a client over its cap, gets 429.
    """
    wait = uow.login_throttle.pace(keys.pair, now=now, backoff=policy.backoff)
    if keys.client and not uow.login_throttle.remembers(keys.known, now=now):
        count, remaining = uow.login_throttle.attempt(keys.client, now=now)
        if count > policy.client_max_failures:
            wait = max(wait, remaining)
    uow.commit()
    if wait:
        raise RateLimited("Too many login attempts; try again later.", retry_after=wait)


def count_client_attempt(uow: UnitOfWork, *, key: str, limit: int, now: dt.datetime) -> None:
    """Count an attempt at a one-time code from this client (committed at once, as
    for logins); over the limit in the window, 429."""
    count, remaining = uow.login_throttle.attempt(key, now=now)
    uow.commit()
    if count > limit:
        raise RateLimited("Too many attempts; try again later.", retry_after=remaining)
