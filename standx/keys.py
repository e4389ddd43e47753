"""Key and token formats: ed25519 signing keys (base58, hex, 32- or 64-byte) and JWT claims.

StandX's session page shows the request-signing key as base58 of the 32-byte ed25519 seed
(43-44 characters, fewer with leading zero bytes). Other tools export hex, or the 64-byte
seed+public-key form; all are accepted. The public key in base58 is what StandX calls the
``requestId`` and what the user can compare against the session page.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import base58
import nacl.exceptions
import nacl.signing

from standx.errors import KeyFormatError

_HEX = re.compile(r"^(?:0x)?([0-9a-fA-F]{64}|[0-9a-fA-F]{128})$")


def _from_bytes(raw: bytes) -> nacl.signing.SigningKey:
    if len(raw) == 32:
        return nacl.signing.SigningKey(raw)
    if len(raw) == 64:
        key = nacl.signing.SigningKey(raw[:32])
        # The 64-byte form is seed || public key; a mismatch means a corrupted paste.
        if bytes(key.verify_key) != raw[32:]:
            raise KeyFormatError("The 64-byte key's second half is not the seed's public key.")
        return key
    raise KeyFormatError(f"A signing key is 32 bytes (or 64 with its public key), not {len(raw)}.")


def parse_signing_key(text: str) -> nacl.signing.SigningKey:
    """The ed25519 key from base58 (StandX's format), hex or base64 text.

    Raises :class:`KeyFormatError` whose message never repeats the input.
    """
    value = text.strip()
    if not value:
        raise KeyFormatError("The signing key is empty.")
    match = _HEX.match(value)
    if match:
        return _from_bytes(bytes.fromhex(match.group(1)))
    try:
        raw = base58.b58decode(value)
    except ValueError:
        raw = b""
    if len(raw) in (32, 64):
        return _from_bytes(raw)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) in (32, 64):
        return _from_bytes(raw)
    raise KeyFormatError(
        "The signing key is not base58, hex or base64 of a 32-byte ed25519 seed "
        "(StandX's session page shows it as base58)."
    )


def seed_base58(key: nacl.signing.SigningKey) -> str:
    """The key as StandX's session page shows it: base58 of the 32-byte seed."""
    return base58.b58encode(bytes(key)).decode()


def public_key_base58(key: nacl.signing.SigningKey | nacl.signing.VerifyKey) -> str:
    """Base58 of the 32-byte public key: StandX's ``requestId`` for this key."""
    verify_key = key.verify_key if isinstance(key, nacl.signing.SigningKey) else key
    return base58.b58encode(bytes(verify_key)).decode()


def new_signing_key() -> nacl.signing.SigningKey:
    """A fresh random ed25519 key (the temporary login key)."""
    return nacl.signing.SigningKey.generate()


def verify_key_from_base58(text: str) -> nacl.signing.VerifyKey:
    try:
        raw = base58.b58decode(text)
        return nacl.signing.VerifyKey(raw)
    except (ValueError, nacl.exceptions.CryptoError, TypeError):
        raise KeyFormatError("Not a base58 ed25519 public key.") from None


def _b64url_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        raise KeyFormatError("The token is not a JWT.") from None
    if not isinstance(value, dict):
        raise KeyFormatError("The token is not a JWT.")
    return value


def jwt_header(token: str) -> dict[str, Any]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise KeyFormatError("The token is not a JWT (three dot-separated parts).")
    return _b64url_json(parts[0])


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (StandX tokens are HS256 with a key only StandX has)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise KeyFormatError("The token is not a JWT (three dot-separated parts).")
    return _b64url_json(parts[1])


def token_expiry(token: str) -> datetime | None:
    """When the access token expires, from its ``exp`` claim; None when it has none.

    An ``exp`` that names no moment (NaN, Infinity, or seconds past the year 9999 either way)
    raises :class:`KeyFormatError`: no exchange issues such a token.
    """
    exp = jwt_claims(token).get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return None
    if isinstance(exp, float) and not math.isfinite(exp):
        raise KeyFormatError("The token's expiry (its exp claim) is not a time.")
    try:
        return datetime.fromtimestamp(exp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise KeyFormatError("The token's expiry (its exp claim) is not a time.") from None
