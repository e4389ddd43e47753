"""Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): SHA-1, 6 digits, 30 s steps,
as every authenticator app reads them from an ``otpauth://`` URI. Pure: no Django."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_S = 30
DIGITS = 6
# Codes from one step before and after now are accepted: phones' clocks drift.
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended length for SHA-1


def new_secret() -> str:
    """A random shared secret in base32 (no padding), as apps expect it."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _key(secret_b32: str) -> bytes:
    cleaned = secret_b32.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(unix_time: float) -> int:
    return int(unix_time // STEP_S)


def code_at(secret_b32: str, unix_time: float) -> str:
    return hotp(_key(secret_b32), step_at(unix_time))


def matching_step(secret_b32: str, code: str, unix_time: float) -> int | None:
    """The step (within the allowed drift) whose code is ``code``, or None.

    The caller refuses a step at or before the last one accepted, so a code is single-use.
    """
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    key, now = _key(secret_b32), step_at(unix_time)
    # Compare every candidate, so the time taken does not tell which step matched.
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(hotp(key, step), code):
            found = step
    return found


def provisioning_uri(secret_b32: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an app scans from the QR code."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "digits": DIGITS, "period": STEP_S})
    return f"otpauth://totp/{label}?{query}"


def grouped(secret_b32: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret_b32[i : i + 4] for i in range(0, len(secret_b32), 4))
