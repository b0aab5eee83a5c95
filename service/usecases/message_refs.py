"""What operators may know about an outbox message: a pseudonymous reference and the
class of its last error.

A reference is the message id encrypted under a key derived from the server secret:
it names one message and nothing else. It does not reveal the order in which
messages were queued (sequential ids would, and so how busy the service was at a
given hour), it differs for every message of the same patient, so an operator cannot
chain a patient's reminders into their dosing schedule, and it cannot be forged or
guessed. It is reversible with the key, so a message is found again by its
reference without storing anything. Rotating MEDTRACK_SECRET_KEY changes every
reference; they are for correlating a conversation, not for keeping.

The last error is stored as the notifier wrote it, which may quote a receiver's
answer (a webhook receiver can echo the message it refused); operators see only a
class built from fixed words, never that text.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# A fixed second half of the block: decryption of anything the key did not encrypt
# fails this check with probability 1 - 2**-64.
_CHECK = bytes(8)
_REF = re.compile(r"[0-9a-f]{32}")
# notifications.id is an INTEGER column.
_MAX_ID = 2**31 - 1
_KEY_LABEL = b"medtrack outbox message reference v1"


class MessageRefs:
    """Message id <-> pseudonymous reference (32 lowercase hex digits)."""

    def __init__(self, secret: str) -> None:
        # A key of its own, derived from the server secret, so that a reference never
        # serves as an oracle for anything else the secret protects.
        key = hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
        # One 16-byte block under AES is a keyed permutation of that block: ECB's
        # weakness (equal blocks, equal ciphertexts) needs more than one block.
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # noqa: S305

    def ref(self, message_id: int) -> str:
        encrypt = self._cipher.encryptor()
        block = message_id.to_bytes(8, "big") + _CHECK
        return (encrypt.update(block) + encrypt.finalize()).hex()

    def message_id(self, ref: str) -> int | None:
        """The id a reference names; None for anything this key did not make."""
        if not _REF.fullmatch(ref):
            return None
        decrypt = self._cipher.decryptor()
        block = decrypt.update(bytes.fromhex(ref)) + decrypt.finalize()
        if not hmac.compare_digest(block[8:], _CHECK):
            return None
        message_id = int.from_bytes(block[:8], "big")
        return message_id if 0 < message_id <= _MAX_ID else None


_CHANNEL = re.compile(r"^(?:no )?(webhook|webpush|push service|fcm)\b", re.IGNORECASE)
_HTTP_STATUS = re.compile(r"\bHTTP ([1-5]\d\d)\b")
_FCM_CODE = re.compile(r"^FCM ([A-Za-z_-]{1,40})\b")
_EXCEPTION = re.compile(r"^([A-Za-z_]\w{0,60})\(")
# The first phrase found names the cause; each phrase is one a notifier in
# service/notify writes (errors.py, fanout.py, webhook.py, webpush.py, fcm.py).
_CAUSES = (
    ("redirect", "redirect"),
    ("timed out", "timeout"),
    ("unreachable", "unreachable"),
    ("url is invalid", "bad-url"),
    ("scheme is not supported", "bad-url"),
    ("not json-serialisable", "bad-payload"),
    ("oauth", "auth"),
    ("subscription", "bad-subscription"),
    ("device", "no-device"),
)


def error_class(text: str | None) -> str | None:
    """`channel:cause` (`webhook:http-503`, `webpush:timeout`, `fcm:unavailable`), or
    the cause alone when no channel is named; None when there was no error."""
    if not text:
        return None
    match = _CHANNEL.match(text)
    channel = match.group(1).lower().replace("push service", "webpush") if match else None
    cause = _cause(text)
    return f"{channel}:{cause}" if channel else cause


def _cause(text: str) -> str:
    # A fan-out over devices writes "webpush: no device accepted the message (<id>:
    # push service answered HTTP 503 ...)": the receiver's status is the cause.
    status = _HTTP_STATUS.search(text)
    if status:
        return f"http-{status.group(1)}"
    lowered = text.lower()
    for phrase, cause in _CAUSES:
        if phrase in lowered:
            return cause
    code = _FCM_CODE.match(text)
    if code:
        return code.group(1).lower()
    # A notifier that raised something unexpected: dispatch stores repr(exc).
    exception = _EXCEPTION.match(text)
    if exception:
        return f"exception-{exception.group(1)}"
    return "other"
