"""Pseudonymous message references and error classes: what operators may be told."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.usecases.message_refs import MessageRefs, error_class

REFS = MessageRefs("a test secret of at least thirty-two characters")
IDS = st.integers(min_value=1, max_value=2**31 - 1)


@given(IDS)
def test_a_reference_names_its_message_and_only_under_its_key(message_id: int) -> None:
    ref = REFS.ref(message_id)
    assert len(ref) == 32
    assert REFS.message_id(ref) == message_id
    assert str(message_id) != ref
    assert MessageRefs("another secret of at least thirty-two chars").message_id(ref) is None


def test_neighbouring_messages_have_unrelated_references() -> None:
    first, second = REFS.ref(41), REFS.ref(42)
    assert first != second
    # No shared prefix beyond chance: the order of queueing is not shown.
    assert first[:8] != second[:8]


@given(st.text(max_size=80))
def test_anything_else_names_no_message(text: str) -> None:
    if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
        return
    assert REFS.message_id(text) is None


@given(st.binary(min_size=16, max_size=16))
def test_a_forged_reference_names_no_message(block: bytes) -> None:
    message_id = REFS.message_id(block.hex())
    assert message_id is None or REFS.ref(message_id) == block.hex()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("webhook answered HTTP 503: Service Unavailable", "webhook:http-503"),
        ('webhook refused with HTTP 400: {"drug":"diazepam"}', "webhook:http-400"),
        ("webhook timed out (ReadTimeout)", "webhook:timeout"),
        ("webhook unreachable (ConnectionError)", "webhook:unreachable"),
        ("webhook URL is invalid (MissingSchema)", "webhook:bad-url"),
        ("push service answered HTTP 429", "webpush:http-429"),
        ("no webpush device", "webpush:no-device"),
        (
            "webpush: no device accepted the message (d1: push service timed out (ReadTimeout))",
            "webpush:timeout",
        ),
        ("FCM UNAVAILABLE HTTP 503: try later", "fcm:http-503"),
        ("FCM invalid-argument: The registration token is not valid", "fcm:invalid-argument"),
        ("FCM answered with a redirect, not followed: ...", "fcm:redirect"),
        ("FCM OAuth token: RefreshError", "fcm:auth"),
        ("device has no FCM installation ID or token", "no-device"),
        ("invalid subscription keys", "bad-subscription"),
        ("KeyError('diazepam')", "exception-KeyError"),
        ("taper-step for Jane Doe, diazepam 7.5 mg", "other"),
    ],
)
def test_an_error_is_shown_by_its_class_never_its_text(text: str | None, expected: str) -> None:
    assert error_class(text) == expected
