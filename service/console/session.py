"""Who is signed in to the console.

A console sign-in is an ordinary medtrack session (service.usecases.auth.login: the
same throttle, the same audit entries): its access and refresh tokens live in the
Flask session cookie (HttpOnly, SameSite=Strict, Secure in production), never where
a script could read them. Each request authenticates the access token; an expired
one is exchanged once for new tokens with the refresh token, exactly as the app
does. Staff only: a patient's credentials sign nobody in here.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import g, session

from service.domain.accounts import Principal, Role
from service.usecases import auth, sessions
from service.usecases.errors import Forbidden, Unauthenticated
from service.web.context import RequestContext, RequestUnitOfWork, ctx, runtime

AGENT = "console"
_ACCESS = "access"
_REFRESH = "refresh"
STAFF_ONLY = "The console is for care-team staff and administrators; patients use the app."


def console_ctx() -> RequestContext:
    """The request's context, with the console as the agent that acted."""
    return ctx(AGENT)


def sign_in(email: str, password: str) -> Principal:
    """Log in as the JSON API does; a patient's session is ended at once (403)."""
    c = console_ctx()
    issued = auth.login(
        **c.args(),
        passwords=c.passwords,
        tokens=c.tokens,
        policy=c.login_policy,
        email=email,
        password=password,
    )
    who = _authenticate(issued.access_token)
    if who.role is Role.PATIENT:
        auth.logout(**c.args(), tokens=c.tokens, token=issued.access_token)
        raise Forbidden(STAFF_ONLY)
    # A sign-in over an earlier one ends the earlier session, not only its cookie.
    sign_out()
    session[_ACCESS] = issued.access_token
    session[_REFRESH] = issued.refresh_token
    return who


def sign_out() -> None:
    """End this sign-in's session (its refresh token too) and forget the cookie."""
    token = session.get(_ACCESS)
    session.clear()
    if not token:
        return
    c = console_ctx()
    # An expired or revoked sign-in is already over: nothing is left to end.
    with contextlib.suppress(Unauthenticated):
        auth.logout(**c.args(), tokens=c.tokens, token=token)


def current_principal() -> Principal:
    """The signed-in staff member; Unauthenticated when there is none."""
    token = session.get(_ACCESS)
    if not token:
        raise Unauthenticated("Sign in to use the console.")
    r = runtime()
    try:
        who = auth.authenticate(
            uow=RequestUnitOfWork(r.db), clock=r.clock, tokens=r.tokens, token=token
        )
    except Unauthenticated:
        who = _refreshed()
    if who.role is Role.PATIENT:
        session.clear()
        raise Forbidden(STAFF_ONLY)
    return who


def _refreshed() -> Principal:
    refresh = session.get(_REFRESH)
    if not refresh:
        session.clear()
        raise Unauthenticated("Your sign-in has ended; sign in again.")
    c = console_ctx()
    try:
        issued = sessions.refresh(
            **c.args(), tokens=c.tokens, policy=c.login_policy, refresh_token=refresh
        )
    except Unauthenticated:
        session.clear()
        raise
    session[_ACCESS] = issued.access_token
    session[_REFRESH] = issued.refresh_token
    return _authenticate(issued.access_token)


def _authenticate(token: str) -> Principal:
    r = runtime()
    return auth.authenticate(
        uow=RequestUnitOfWork(r.db), clock=r.clock, tokens=r.tokens, token=token
    )


F = TypeVar("F", bound=Callable[..., Any])


def signed_in(view: F) -> F:
    """Load the signed-in staff member into `g.principal` before the view runs."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.principal = current_principal()
        return view(*args, **kwargs)

    return cast(F, wrapper)


def admin_only(view: F) -> F:
    """Signed in as an administrator (the use cases check again)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.principal = current_principal()
        if g.principal.role is not Role.ADMIN:
            raise Forbidden("Only administrators manage staff accounts and care teams.")
        return view(*args, **kwargs)

    return cast(F, wrapper)
