"""Who calls the CDS Hooks service: an EHR proving itself with a signed JWT, as the
CDS Hooks 2.0 specification describes ("Trusting CDS Clients"). The token names its
issuer (`iss`), which must be a client of MEDTRACK_CDS_CLIENTS; its header's `kid`
picks one of that client's public keys; it is signed with ES384 or RS384 (or the same
curves' and key sizes' siblings, never a shared secret nor `none`); its audience
(`aud`) is the URL of the endpoint called; it carries `exp`, `iat` and `jti`, and a
`jti` authorises one call only.

In development with no client configured, a call with no token from this machine
(loopback) is let through and logged, so that the service can be tried locally."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from flask import request

from service.config import CdsClient, Settings
from service.usecases import cds_feedback
from service.usecases.errors import Unauthenticated
from service.web.context import RequestContext

log = logging.getLogger("medtrack.cds")

ALGORITHMS = ("ES384", "RS384", "ES256", "RS256", "ES512", "RS512")
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
# A token is short-lived (CDS clients sign one per call): one valid for longer than
# this is refused, and clocks may differ by the leeway.
MAX_LIFETIME = dt.timedelta(hours=1)
LEEWAY = dt.timedelta(seconds=60)
LOOPBACK_CLIENT = "development-loopback"


@dataclass(frozen=True)
class Client:
    """The authenticated caller: its issuer and the identifier system of its patients."""

    iss: str
    patient_system: str | None = None


def _refuse(why: str) -> Unauthenticated:
    return Unauthenticated(f"The CDS client's token is not accepted: {why}.")


def _token() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse("send it as Authorization: Bearer <JWT>")
    return token.strip()


def _key(client: CdsClient, header: dict[str, Any]) -> Any:
    kid = header.get("kid")
    for jwk in client.keys:
        if jwk.get("kid") == kid:
            if jwk.get("alg") not in (None, header.get("alg")):
                raise _refuse("the key named by kid is not for this algorithm")
            return jwt.PyJWK(jwk, algorithm=header.get("alg")).key
    raise _refuse("no key of this issuer has that kid")


def _instant(claims: dict[str, Any], name: str) -> dt.datetime:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _refuse(f"{name} must be a number of seconds since the epoch")
    return dt.datetime.fromtimestamp(value, dt.UTC)


def verify(
    token: str, *, audiences: Sequence[str], clients: Sequence[CdsClient], now: dt.datetime
) -> tuple[Client, str, dt.datetime]:
    """The client a token authenticates, its jti and its expiry; Unauthenticated
    (with why) for anything short of a valid token of a trusted issuer for this URL."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _refuse("it is not a JWT") from exc
    if header.get("alg") not in ALGORITHMS:
        raise _refuse(f"alg must be one of {', '.join(ALGORITHMS)}")
    client = next((c for c in clients if c.iss == unverified.get("iss")), None)
    if client is None:
        raise _refuse("its issuer (iss) is not a trusted CDS client")
    try:
        claims = jwt.decode(
            token,
            key=_key(client, header),
            algorithms=[header["alg"]],
            audience=list(audiences),
            issuer=client.iss,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise _refuse(f"its audience (aud) must be {audiences[0]}") from exc
    except jwt.PyJWTError as exc:
        raise _refuse(str(exc).rstrip(".") or "it does not verify") from exc
    expires, issued = _instant(claims, "exp"), _instant(claims, "iat")
    if expires <= now - LEEWAY:
        raise _refuse("it has expired (exp)")
    if issued > now + LEEWAY or expires - now > MAX_LIFETIME:
        raise _refuse("iat is in the future or exp more than an hour away")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 255:
        raise _refuse("jti must be a string of 1 to 255 characters")
    return Client(iss=client.iss, patient_system=client.patient_system), jti, expires


# Headers a proxy adds: a call that came through one did not start on this machine,
# whatever address the proxy (or the header itself) makes it appear to come from.
_FORWARDING = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")


def _from_this_machine(settings: Settings) -> bool:
    """Whether the call came from this machine itself: a loopback peer, with no
    proxy in between (none trusted, no forwarding header)."""
    if settings.trusted_proxies or any(h in request.headers for h in _FORWARDING):
        return False
    try:
        address = request.remote_addr
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def public_url(settings: Settings) -> str:
    """The service's address as its clients reach it, ending in a slash: the
    configured MEDTRACK_PUBLIC_URL, else the request's own (whose Host header the
    caller chooses, which is why production with CDS clients requires the setting)."""
    return settings.public_url + "/" if settings.public_url else request.host_url


def audience(settings: Settings, path: str) -> str:
    """The URL a JWT for `path` (an absolute path here) must name as its audience."""
    return public_url(settings) + path.lstrip("/")


def authenticate(c: RequestContext, *, audiences: Sequence[str]) -> Client:
    """The calling CDS client, or Unauthenticated (401). A token's jti is spent here."""
    settings: Settings = c.settings
    token = _token()
    if token is None:
        if (
            settings.env == "development"
            and not settings.cds_clients
            and _from_this_machine(settings)
        ):
            log.warning(
                "CDS Hooks call without a JWT accepted from %s: development, no "
                "MEDTRACK_CDS_CLIENTS configured",
                request.remote_addr,
            )
            return Client(iss=LOOPBACK_CLIENT)
        raise _refuse("send a signed JWT: Authorization: Bearer <JWT>")
    client, jti, expires = verify(
        token, audiences=audiences, clients=settings.cds_clients, now=c.clock()
    )
    # Kept as long as the token could still be accepted (its expiry and the leeway),
    # so that it is refused as spent until it is refused as expired.
    cds_feedback.use_token(
        uow=c.uow(), clock=c.clock, issuer=client.iss, jti=jti, expires_at=expires + LEEWAY
    )
    return client
