"""Password hashing (Argon2id), signed access tokens and activation codes."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from service.domain.accounts import Role

TOKEN_ISSUER = "medtrack"  # noqa: S105
TOKEN_ALGORITHM = "HS256"  # noqa: S105
# Crockford base32 without I, L, O, U: easy to read aloud and to type on a phone.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS = 3
_CODE_GROUP_LEN = 4  # 12 symbols, 60 bits of entropy
MIN_PASSWORD_LENGTH = 10
# Bounded so that hashing cannot be used to burn CPU.
MAX_PASSWORD_LENGTH = 128
# Verified tokens remembered per key: a few thousand signed-in devices per worker,
# each entry well under a kilobyte.
VERIFIED_TOKENS_CACHED = 4096


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )
        self._dummy = self._hasher.hash(secrets.token_hex(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Constant work whether or not the account exists (`stored` None)."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Must be at most {MAX_PASSWORD_LENGTH} characters.")
    if password.strip() == "":
        problems.append("Must not be only spaces.")
    return problems


@dataclass(frozen=True, kw_only=True)
class TokenClaims:
    user_id: uuid.UUID
    role: Role
    jti: str
    patient_id: uuid.UUID | None


class _InvalidToken(Exception):
    """Raised rather than returned, so that the cache of verified tokens keeps none."""


class Tokens:
    def __init__(self, *, secret_key: str, ttl_seconds: int) -> None:
        self._key = secret_key
        self.ttl_seconds = ttl_seconds
        # Signature and claims checks are the same on every request with a token;
        # only expiry depends on the time. lru_cache is thread-safe and bounded.
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS_CACHED)(self._verify)

    def issue(
        self, *, user_id: uuid.UUID, role: Role, patient_id: uuid.UUID | None, now: dt.datetime
    ) -> tuple[str, str, dt.datetime]:
        jti = secrets.token_urlsafe(24)
        expires = now + dt.timedelta(seconds=self.ttl_seconds)
        claims: dict[str, Any] = {
            "iss": TOKEN_ISSUER,
            "sub": str(user_id),
            "role": role.value,
            "jti": jti,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        if patient_id is not None:
            claims["pid"] = str(patient_id)
        return jwt.encode(claims, self._key, algorithm=TOKEN_ALGORITHM), jti, expires

    def decode(self, token: str, *, now: dt.datetime) -> TokenClaims | None:
        """The claims of a well-signed, unexpired token; None otherwise."""
        try:
            claims, expires = self._verified(token)
        except _InvalidToken:
            return None
        if expires <= now.timestamp():
            return None
        return claims

    def _verify(self, token: str) -> tuple[TokenClaims, int]:
        """The claims and expiry (Unix seconds) of a well-signed token.

        Independent of the time (expiry is judged by `decode`; a `nbf` claim, which
        ours never carry, once passed stays passed), so the answer for a token string
        can be remembered; a refusal raises and is not remembered."""
        try:
            data = jwt.decode(
                token,
                self._key,
                algorithms=[TOKEN_ALGORITHM],
                issuer=TOKEN_ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "jti", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
            pid = data.get("pid")
            claims = TokenClaims(
                user_id=uuid.UUID(data["sub"]),
                role=Role(data["role"]),
                jti=str(data["jti"]),
                patient_id=uuid.UUID(pid) if pid else None,
            )
            return claims, int(data["exp"])
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as error:
            raise _InvalidToken from error


def new_activation_code() -> str:
    groups = (
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUP_LEN))
        for _ in range(_CODE_GROUPS)
    )
    return "-".join(groups)


def activation_code_hash(code: str) -> str:
    """Digest of the normalised code; the code itself is never stored.

    A fast hash is enough here: the code carries 60 random bits and expires.
    """
    cleaned = code.upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    return hashlib.sha256(cleaned.encode("utf-8")).hexdigest()
