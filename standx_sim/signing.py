"""Ed25519 body signatures (protocol section 2), verified over the raw request bytes.

Signed message: `"{version},{x-request-id},{x-request-timestamp},"` followed by the exact body
bytes as received (the ws-api `params` string for ws orders). Never re-serialise JSON before
verifying: compact, spaced and key-sorted bodies each verify against their own bytes.

Choices for the open questions (protocol section 9):
- The signature must be standard base64 with padding (88 characters, 64 bytes). The urlsafe
  alphabet is refused with 403: every known client sends the standard form.
- A missing version header means "v1"; `x-request-version` is accepted as an alias. Any version
  other than "v1" is refused (403).
- Timestamps (Unix milliseconds) must be within +/-60 s of the server clock, else 403
  "signature has expired".
- `x-request-id` is opaque: it is not checked for uniqueness (one client sent a constant id).
- A signature that does not verify is refused with 403 "invalid body signature", the live text.
  So is every signed request of a token whose login `requestId` was no ed25519 public key (the
  live server accepts a UUID there, see `auth.py`): no key is bound, so nothing can verify.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

import base58
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from standx_sim.errors import ApiError

TIMESTAMP_WINDOW_MS = 60_000


def seed_to_base58(seed: bytes) -> str:
    return base58.b58encode(seed).decode()


def public_key_base58(key: SigningKey | VerifyKey) -> str:
    verify = key.verify_key if isinstance(key, SigningKey) else key
    return base58.b58encode(bytes(verify)).decode()


def request_key(request_id: str) -> VerifyKey | None:
    """The ed25519 public key a requestId names (base58 of 32 bytes), else None (e.g. a UUID)."""
    try:
        raw = base58.b58decode(request_id)
    except ValueError:
        return None
    return VerifyKey(raw) if len(raw) == 32 else None


def signed_message(version: str, request_id: str, timestamp: str, payload: bytes) -> bytes:
    return f"{version},{request_id},{timestamp},".encode() + payload


def decode_signature(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(403, "invalid signature: not standard base64") from None
    if len(raw) != 64:
        raise ApiError(403, "invalid signature: expected 64 bytes")
    return raw


def verify_headers(
    headers: Mapping[str, str], payload: bytes, key: VerifyKey | None, now_ms: int
) -> None:
    """Check the x-request-* headers against `payload`; raise ApiError(403) when they fail.

    `key` is None for a token bound to no signing key: every signature fails for it.
    """
    version = headers.get("x-request-sign-version") or headers.get("x-request-version") or "v1"
    request_id = headers.get("x-request-id")
    timestamp = headers.get("x-request-timestamp")
    signature = headers.get("x-request-signature")
    if not request_id or not timestamp or not signature:
        raise ApiError(403, "missing body signature headers")
    if version != "v1":
        raise ApiError(403, f"unsupported signature version: {version}")
    if not timestamp.isdigit():
        raise ApiError(403, "invalid x-request-timestamp: expected Unix milliseconds")
    if abs(now_ms - int(timestamp)) > TIMESTAMP_WINDOW_MS:
        raise ApiError(403, "signature has expired: timestamp outside the +/-60 s window")
    raw = decode_signature(signature)
    if key is None:
        raise ApiError(403, "invalid body signature")
    try:
        key.verify(signed_message(version, request_id, timestamp, payload), raw)
    except BadSignatureError:
        raise ApiError(403, "invalid body signature") from None


def has_signature(headers: Mapping[str, str]) -> bool:
    return "x-request-signature" in headers
