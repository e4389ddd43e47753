"""The API key: a JWT bearer, read (never verified) for its expiry, account and permissions.

PerpEx signs keys with a secret only it holds, so the client cannot verify them; it decodes the
claims to show when a key expires and what it may do. Claims read, all optional: ``exp`` (Unix
seconds; a value that is not a finite number in the calendar's range counts as "no expiry given"
rather than failing), ``sub`` / ``accountId`` / ``account`` (the account), ``perms`` /
``permissions`` / ``scope`` / ``scopes`` (a list or a space-separated string).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from datetime import UTC, datetime
from typing import Any

from perpex.errors import KeyFormatError


def _segment(text: str) -> dict[str, Any]:
    padded = text + "=" * (-len(text) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KeyFormatError("The API key is not a JWT (its parts are not base64 JSON).") from None
    if not isinstance(value, dict):
        raise KeyFormatError("The API key is not a JWT (its claims are not a JSON object).")
    return value


def jwt_claims(token: str) -> dict[str, Any]:
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise KeyFormatError("The API key is not a JWT (three dot-separated parts).")
    _segment(parts[0])
    return _segment(parts[1])


def expiry(claims: dict[str, Any]) -> datetime | None:
    """``exp`` as a time; None when absent or unusable (NaN, infinite, huge, not a number)."""
    exp = claims.get("exp")
    if isinstance(exp, str):
        try:
            exp = float(exp)
        except ValueError:
            return None
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    if isinstance(exp, float) and not math.isfinite(exp):
        return None
    try:
        return datetime.fromtimestamp(exp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def permissions(claims: dict[str, Any]) -> frozenset[str] | None:
    for name in ("perms", "permissions", "scope", "scopes"):
        value = claims.get(name)
        if isinstance(value, str):
            return frozenset(value.replace(",", " ").split())
        if isinstance(value, list):
            return frozenset(str(v) for v in value)
    return None


class ApiKey:
    """A pasted PerpEx API key. The repr shows the fingerprint, account and expiry only."""

    __slots__ = ("_token", "account_id", "expires_at", "fingerprint", "permissions")

    def __init__(self, token: str) -> None:
        token = token.strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        claims = jwt_claims(token)
        self._token = token
        self.expires_at = expiry(claims)
        self.permissions = permissions(claims)
        account = next((claims[k] for k in ("sub", "accountId", "account") if claims.get(k)), None)
        self.account_id: str | None = str(account)[:128] if account is not None else None
        # Names the key in rate-limit buckets and logs without revealing it.
        self.fingerprint = hashlib.sha256(token.encode()).hexdigest()[:16]

    @property
    def token(self) -> str:
        return self._token

    def can_trade(self) -> bool | None:
        """True/False when the key says; None when it carries no permissions claim."""
        return None if self.permissions is None else "trade" in self.permissions

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def __repr__(self) -> str:
        return (
            f"ApiKey(fingerprint={self.fingerprint!r}, account_id={self.account_id!r}, "
            f"expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an ApiKey cannot be pickled; pass an account id instead")
