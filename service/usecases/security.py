"""Password hashing (Argon2id) and policy, signed access tokens, refresh tokens and
one-time codes (activation, password reset)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import string
import uuid
from dataclasses import dataclass
from pathlib import Path
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
# NIST SP 800-63B-4 asks at least 15 characters for a password used alone; 12 is
# the floor the project holds every account to, with the common-password check
# below doing the rest (a phrase of three or four words clears both).
MIN_PASSWORD_LENGTH = 12
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"
# Fewer different characters than this is a pattern, not a password ("aaaaaaaaaaaa",
# "121212121212").
MIN_DISTINCT_CHARACTERS = 5
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


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, read once per process (about 20,000 entries, 160 kB)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def _is_common(password: str) -> bool:
    """On the list as typed, or once the digits and symbols padded around a listed
    word are taken off ("Password1234!" is "password")."""
    lowered = password.lower()
    listed = common_passwords()
    core = lowered.strip(string.digits + string.punctuation + " ")
    return lowered in listed or (len(core) >= 4 and core in listed)


def _is_email(password: str, email: str) -> bool:
    """The address itself, or its name before the @ padded like a listed word."""
    lowered, address = password.lower(), email.strip().lower()
    core = lowered.strip(string.digits + string.punctuation + " ")
    return address in lowered or core == address.split("@", 1)[0]


def password_problems(password: str, *, email: str | None = None) -> list[str]:
    """Everything wrong with a new password, in words the user can act on."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Must be at most {MAX_PASSWORD_LENGTH} characters.")
    if password.strip() == "":
        problems.append("Must not be only spaces.")
    elif len(set(password.lower())) < MIN_DISTINCT_CHARACTERS:
        problems.append("Must not repeat a few characters; use a phrase of several words.")
    if _is_common(password):
        problems.append("Is a commonly used password; choose another.")
    if email and _is_email(password, email):
        problems.append("Must not be or contain your email address.")
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


def new_refresh_token() -> str:
    """An opaque refresh token: 256 random bits, shown once and stored as a digest."""
    return secrets.token_urlsafe(32)


def secret_digest(secret: str) -> str:
    """How a token secret (a refresh token, an access token's id) is stored.

    SHA-256 without salt is enough: each secret is random and long, so no list of
    guesses can reverse it; it only keeps a copy of the table from being a key ring.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def activation_code_hash(code: str) -> str:
    """Digest of the normalised code; the code itself is never stored.

    A fast hash is enough here: the code carries 60 random bits and expires.
    """
    cleaned = code.upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(str.maketrans("OIL", "011"))
    return hashlib.sha256(cleaned.encode("utf-8")).hexdigest()
