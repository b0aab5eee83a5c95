"""Password hashing, access tokens, activation codes and password rules."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid

import jwt
import pytest

from service.domain.accounts import Role
from service.usecases.security import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    TOKEN_ISSUER,
    VERIFIED_TOKENS_CACHED,
    Passwords,
    Tokens,
    activation_code_hash,
    common_passwords,
    new_activation_code,
    password_problems,
)

# The smallest Argon2 cost the library accepts keeps these tests fast.
CHEAP = {"time_cost": 1, "memory_kib": 8}
KEY = "k" * 64  # long enough for HS512, so only the algorithm differs
NOW = dt.datetime(2024, 3, 31, 1, 30, tzinfo=dt.UTC)
TTL = 600
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_FORMAT = re.compile(rf"^[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}-[{CROCKFORD}]{{4}}$")


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    return Passwords(**CHEAP)


@pytest.fixture
def tokens() -> Tokens:
    return Tokens(secret_key=KEY, ttl_seconds=TTL)


def test_hash_is_argon2id_salted_and_verifies(passwords: Passwords) -> None:
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert "correct horse battery" not in stored
    assert passwords.hash("correct horse battery") != stored
    assert passwords.verify(stored, "correct horse battery") is True


@pytest.mark.parametrize("attempt", ["correct horse batter", "Correct horse battery", ""])
def test_wrong_password_is_refused(passwords: Passwords, attempt: str) -> None:
    assert passwords.verify(passwords.hash("correct horse battery"), attempt) is False


@pytest.mark.parametrize("stored", [None, "", "not-a-hash", "$argon2id$v=19$garbage"])
def test_missing_or_malformed_stored_hash_never_verifies(
    passwords: Passwords, stored: str | None
) -> None:
    assert passwords.verify(stored, "correct horse battery") is False


def test_no_account_never_verifies_even_against_the_dummy_hash_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `verify(None, ...)` checks against a dummy hash for constant work; even the
    # dummy's own password must not log anyone in.
    monkeypatch.setattr("service.usecases.security.secrets.token_hex", lambda _n: "dummy-password")
    assert Passwords(**CHEAP).verify(None, "dummy-password") is False


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (CHEAP, False),
        ({"time_cost": 2, "memory_kib": 8}, True),
        ({"time_cost": 1, "memory_kib": 16}, True),
    ],
)
def test_needs_rehash_when_parameters_change(
    passwords: Passwords, params: dict[str, int], expected: bool
) -> None:
    stored = passwords.hash("correct horse battery")
    assert Passwords(**params).needs_rehash(stored) is expected
    assert Passwords(**params).verify(stored, "correct horse battery") is True


@pytest.mark.parametrize("patient_id", [uuid.uuid4(), None])
def test_token_round_trip(tokens: Tokens, patient_id: uuid.UUID | None) -> None:
    user_id = uuid.uuid4()
    token, jti, expires = tokens.issue(
        user_id=user_id, role=Role.PATIENT, patient_id=patient_id, now=NOW
    )
    assert expires == NOW + dt.timedelta(seconds=TTL)
    claims = tokens.decode(token, now=NOW)
    assert claims is not None
    assert (claims.user_id, claims.role, claims.jti, claims.patient_id) == (
        user_id,
        Role.PATIENT,
        jti,
        patient_id,
    )


def test_each_token_has_its_own_jti(tokens: Tokens) -> None:
    user_id = uuid.uuid4()
    first = tokens.issue(user_id=user_id, role=Role.ADMIN, patient_id=None, now=NOW)
    second = tokens.issue(user_id=user_id, role=Role.ADMIN, patient_id=None, now=NOW)
    assert first[1] != second[1]
    assert first[0] != second[0]


@pytest.mark.parametrize(
    ("offset", "valid"),
    [(0, True), (1, True), (TTL - 1, True), (TTL, False), (TTL + 1, False), (86400, False)],
)
def test_expiry_is_judged_against_now(tokens: Tokens, offset: int, valid: bool) -> None:
    token, _, _ = tokens.issue(user_id=uuid.uuid4(), role=Role.CLINICIAN, patient_id=None, now=NOW)
    later = NOW + dt.timedelta(seconds=offset)
    assert (tokens.decode(token, now=later) is not None) is valid


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _issue(tokens: Tokens) -> str:
    return tokens.issue(user_id=uuid.uuid4(), role=Role.PATIENT, patient_id=None, now=NOW)[0]


def test_token_with_an_altered_payload_is_refused(tokens: Tokens) -> None:
    token = _issue(tokens)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = f"{header}.{_b64(claims | {'role': 'admin'})}.{signature}"
    assert tokens.decode(forged, now=NOW) is None


def test_token_with_an_altered_signature_is_refused(tokens: Tokens) -> None:
    header, payload, signature = _issue(tokens).split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    bad = signature[:middle] + flipped + signature[middle + 1 :]
    assert tokens.decode(f"{header}.{payload}.{bad}", now=NOW) is None


def _claims(**overrides: object) -> dict[str, object]:
    now = int(NOW.timestamp())
    base = {
        "iss": TOKEN_ISSUER,
        "sub": str(uuid.uuid4()),
        "role": "admin",
        "jti": "j",
        "iat": now,
        "exp": now + TTL,
    }
    return base | overrides


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [("o" * 64, "HS256"), (KEY, "HS512"), (KEY, "HS384")],
)
def test_token_signed_otherwise_is_refused(tokens: Tokens, key: str, algorithm: str) -> None:
    token = jwt.encode(_claims(), key, algorithm=algorithm)
    assert tokens.decode(token, now=NOW) is None


def test_unsigned_token_is_refused(tokens: Tokens) -> None:
    header = _b64({"alg": "none", "typ": "JWT"})
    assert tokens.decode(f"{header}.{_b64(_claims())}.", now=NOW) is None


def test_well_signed_token_from_this_key_is_accepted(tokens: Tokens) -> None:
    # Control for the refusals below: the same claims, signed properly, pass.
    assert tokens.decode(jwt.encode(_claims(), KEY, algorithm="HS256"), now=NOW) is not None


@pytest.mark.parametrize(
    "claims",
    [
        _claims(iss="someone-else"),
        _claims(role="superuser"),
        _claims(sub="not-a-uuid"),
        _claims(pid="not-a-uuid"),
        {k: v for k, v in _claims().items() if k != "jti"},
        {k: v for k, v in _claims().items() if k != "exp"},
        {k: v for k, v in _claims().items() if k != "role"},
    ],
)
def test_well_signed_token_with_bad_claims_is_refused(
    tokens: Tokens, claims: dict[str, object]
) -> None:
    assert tokens.decode(jwt.encode(claims, KEY, algorithm="HS256"), now=NOW) is None


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "....", "Bearer x.y.z", "é.é.é"])
def test_garbage_token_is_refused(tokens: Tokens, garbage: str) -> None:
    assert tokens.decode(garbage, now=NOW) is None


# --- the cache of verified tokens -------------------------------------------------


def test_a_remembered_token_still_expires(tokens: Tokens) -> None:
    token = _issue(tokens)
    assert tokens.decode(token, now=NOW) is not None
    assert tokens.decode(token, now=NOW + dt.timedelta(seconds=TTL - 1)) is not None
    assert tokens.decode(token, now=NOW + dt.timedelta(seconds=TTL)) is None
    # Expiry is judged against each call's `now`, not against the first one's.
    assert tokens.decode(token, now=NOW) is not None


def test_a_token_remembered_under_one_key_is_refused_under_another(tokens: Tokens) -> None:
    token = _issue(tokens)
    assert tokens.decode(token, now=NOW) is not None
    assert Tokens(secret_key="o" * 64, ttl_seconds=TTL).decode(token, now=NOW) is None


def test_refused_tokens_are_not_remembered(tokens: Tokens) -> None:
    forged = jwt.encode(_claims(), "o" * 64, algorithm="HS256")
    for token in (forged, "a.b.c", jwt.encode(_claims(role="superuser"), KEY, algorithm="HS256")):
        assert tokens.decode(token, now=NOW) is None
        assert tokens.decode(token, now=NOW) is None
    assert tokens._verified.cache_info().currsize == 0


def test_the_cache_is_bounded_and_forgets_nothing_it_needs(tokens: Tokens) -> None:
    issued = [_issue(tokens) for _ in range(VERIFIED_TOKENS_CACHED + 5)]
    assert all(tokens.decode(t, now=NOW) is not None for t in issued)
    assert tokens._verified.cache_info().currsize == VERIFIED_TOKENS_CACHED
    # The first ones were evicted and are verified again, with the same answer.
    first = tokens.decode(issued[0], now=NOW)
    assert first is not None
    assert first == tokens._verify(issued[0])[0]


def test_activation_codes_use_the_crockford_format() -> None:
    codes = {new_activation_code() for _ in range(200)}
    assert all(CODE_FORMAT.match(code) for code in codes)
    assert not set("ILOU") & set("".join(codes))
    assert len(codes) == 200


@pytest.mark.parametrize(
    "typed",
    [
        "7K3M-9QRT-0A1B",
        "7k3m-9qrt-0a1b",
        "7K3M 9QRT 0A1B",
        " 7K3M9QRT0A1B ",
        "7K3M9QRT0A1B",
        "7K3M-9QRT-OA1B",
        "7K3M-9QRT-0AIB",
        "7K3M-9QRT-0ALB",
        "7k3m 9qrt oalb",
    ],
)
def test_activation_code_hash_normalises_what_people_type(typed: str) -> None:
    assert activation_code_hash(typed) == activation_code_hash("7K3M-9QRT-0A1B")


def test_different_activation_codes_hash_differently() -> None:
    assert activation_code_hash("7K3M-9QRT-0A1B") != activation_code_hash("7K3M-9QRT-0A1C")
    assert re.fullmatch("[0-9a-f]{64}", activation_code_hash("7K3M-9QRT-0A1B"))


# A phrase long enough for any bound, made of five distinct words.
PHRASE = "lantern orchard velvet quarry tundra "


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        (PHRASE[:MIN_PASSWORD_LENGTH], 0),
        ((PHRASE * 4)[:MAX_PASSWORD_LENGTH], 0),
        ("  padded pass  ", 0),
        (PHRASE[: MIN_PASSWORD_LENGTH - 1], 1),
        ((PHRASE * 4)[: MAX_PASSWORD_LENGTH + 1], 1),
        (" " * MIN_PASSWORD_LENGTH, 1),
        ("", 2),
    ],
)
def test_password_problems(password: str, problems: int) -> None:
    assert len(password_problems(password)) == problems


def test_password_problems_say_what_is_wrong() -> None:
    assert password_problems("short words") == [
        f"Must be at least {MIN_PASSWORD_LENGTH} characters."
    ]
    assert password_problems(" " * 12) == ["Must not be only spaces."]
    assert password_problems((PHRASE * 6)[:200]) == [
        f"Must be at most {MAX_PASSWORD_LENGTH} characters."
    ]


@pytest.mark.parametrize(
    "weak",
    [
        "aaaaaaaaaa",  # the penetration test's admin password: short and one letter
        "aaaaaaaaaaaa",  # long enough, but one letter
        "121212121212",  # two characters
        "qwertyqwerty",  # long enough, on the common list
        "1q2w3e4r5t6y",
        "Password1234!",  # a listed word padded with digits and symbols
        "  iloveyou2024",
    ],
)
def test_weak_and_common_passwords_are_refused(weak: str) -> None:
    assert password_problems(weak) != []


def test_the_common_list_is_the_shipped_one_and_read_once() -> None:
    listed = common_passwords()
    assert len(listed) > 19_000
    assert "password" in listed
    assert "q1w2e3r4t5y6" in listed
    assert common_passwords() is listed
    assert all(p == p.lower() and not p.startswith("#") for p in listed)


@pytest.mark.parametrize(
    ("password", "refused"),
    [
        ("jordan.lee@example.org", True),
        ("my login is jordan.lee@example.org", True),
        ("Jordan.Lee2024!!", True),
        ("jordan.lee walks the dog", False),
    ],
)
def test_a_password_may_not_be_the_email_address(password: str, refused: bool) -> None:
    problems = password_problems(password, email="Jordan.Lee@example.org")
    assert ("Must not be or contain your email address." in problems) is refused
