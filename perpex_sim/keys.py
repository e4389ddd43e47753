"""API keys: HS256 JWTs the simulator mints and checks (``Authorization: Bearer <JWT>``).

Claims: ``sub`` (the account id), ``kid`` (the key id, what the rate limit counts by),
``perms`` (``["read", "trade"]`` or ``["read"]``), ``iat`` and, unless the key was minted
without expiry, ``exp``. A missing, malformed, unknown or expired key is answered 401
``UNAUTHORIZED`` (``TOKEN_EXPIRED`` for an expired one); a read-only key on an order route 403
``FORBIDDEN``. The signing secret is derived from the seed, so a seeded run mints the same keys.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from perpex_sim.errors import ApiError, invalid

PERMISSIONS = ("read", "trade")
DEFAULT_EXPIRY_S = 30 * 24 * 3600


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    account: str
    permissions: frozenset[str]

    def require_trade(self) -> None:
        if "trade" not in self.permissions:
            raise ApiError(403, "FORBIDDEN", "this API key is read-only: it cannot place or cancel")


def parse_permissions(value: Any) -> tuple[str, ...]:
    if value is None:
        return PERMISSIONS
    if not isinstance(value, list) or not value or any(p not in PERMISSIONS for p in value):
        raise invalid('permissions must be a list of "read" and "trade"')
    if "read" not in value:
        raise invalid('every key can read: permissions must include "read"')
    return tuple(p for p in PERMISSIONS if p in value)


class Keys:
    def __init__(self, seed: int) -> None:
        self._secret = hashlib.sha256(f"perpex-sim-{seed}".encode()).hexdigest()
        self._rng = random.Random(f"perpex-keys-{seed}")  # noqa: S311 - seeded simulation
        self._issued: dict[str, KeyInfo] = {}

    def mint(
        self, account: str, permissions: tuple[str, ...], expires_in: int | None, now: datetime
    ) -> tuple[str, KeyInfo]:
        kid = f"key-{self._rng.getrandbits(48):012x}"
        info = KeyInfo(kid, account, frozenset(permissions))
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "sub": account,
            "kid": kid,
            "perms": list(permissions),
            "iat": issued,
        }
        if expires_in is not None:
            claims["exp"] = issued + expires_in
        self._issued[kid] = info
        return jwt.encode(claims, self._secret, algorithm="HS256"), info

    def resolve(self, authorization: str | None) -> KeyInfo:
        if not authorization or not authorization.startswith("Bearer "):
            raise ApiError(401, "UNAUTHORIZED", "send the API key as Authorization: Bearer <JWT>")
        return self.resolve_token(authorization[7:].strip())

    def resolve_token(self, token: str) -> KeyInfo:
        try:
            claims = jwt.decode(token, self._secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "TOKEN_EXPIRED", "the API key has expired") from None
        except jwt.PyJWTError:
            raise ApiError(401, "UNAUTHORIZED", "the API key is not valid") from None
        info = self._issued.get(str(claims.get("kid")))
        if info is None:
            raise ApiError(401, "UNAUTHORIZED", "the API key is not known")
        return info
