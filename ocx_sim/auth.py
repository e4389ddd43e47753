"""Sign-in with Ethereum, sessions and API keys.

- ``POST /auth/nonce`` issues a single-use nonce for a wallet, valid :data:`NONCE_TTL`.
- ``POST /auth/siwe`` takes an EIP-4361 message and its ``personal_sign`` signature. The
  message must name this server's host as ``domain`` (the request's ``Host``), a ``URI`` on that
  host, ``Version: 1``, ``Chain ID`` :data:`CHAIN_ID`, the nonce issued to that address, and an
  ``Expiration Time`` in the future and at most :data:`MAX_MESSAGE_LIFETIME` after ``Issued
  At``. The signer is recovered with eth-account and must be the address in the message.
- The session is an HS256 JWT (``sub`` = user id, ``addr``, ``iat``, ``exp`` = 7 days, ``jti``)
  set as the ``astra_session`` cookie and accepted as the cookie or as a bearer token.
- API keys: ``ocx_sk_`` secrets stored only as SHA-256; scope ``read`` or ``trade``; optional
  allowed IPs and expiry; revocation stops them at once.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from eth_account import Account as EthAccount
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

from ocx_sim.accounts import Account, ApiKey
from ocx_sim.clock import SimClock
from ocx_sim.errors import ApiError, bad_request

CHAIN_ID = 84532
NONCE_TTL = timedelta(minutes=5)
MAX_MESSAGE_LIFETIME = timedelta(days=1)
SESSION_LIFETIME = timedelta(days=7)
COOKIE = "astra_session"
SCOPES = ("read", "trade")

_HEADER = re.compile(r"^(?P<domain>\S+) wants you to sign in with your Ethereum account:$")
_FIELDS = (
    "URI",
    "Version",
    "Chain ID",
    "Nonce",
    "Issued At",
    "Expiration Time",
    "Not Before",
    "Request ID",
)


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    statement: str | None
    fields: dict[str, str]


def parse_siwe(text: str) -> SiweMessage:
    """The fields of an EIP-4361 message; 400 INVALID_SIWE_MESSAGE when it is not one."""
    lines = text.split("\n")
    header = _HEADER.match(lines[0]) if lines else None
    if header is None or len(lines) < 4 or not is_address(lines[1].strip()):
        raise bad_request("not an EIP-4361 message", "INVALID_SIWE_MESSAGE")
    rest = lines[2:]
    statement = None
    while rest and rest[0] == "":
        rest = rest[1:]
    if rest and rest[0].partition(": ")[0] not in _FIELDS:
        statement, rest = rest[0], rest[1:]
        while rest and rest[0] == "":
            rest = rest[1:]
    fields: dict[str, str] = {}
    for line in rest:
        name, sep, value = line.partition(": ")
        if line.startswith("Resources:") or line.startswith("- "):
            continue
        if not sep or name not in _FIELDS:
            raise bad_request(
                f"unexpected line in the SIWE message: {line[:40]!r}", "INVALID_SIWE_MESSAGE"
            )
        fields[name] = value
    for required in ("URI", "Version", "Chain ID", "Nonce", "Issued At"):
        if required not in fields:
            raise bad_request(f"the SIWE message has no {required}", "INVALID_SIWE_MESSAGE")
    return SiweMessage(header["domain"], lines[1].strip(), statement, fields)


def _time(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"{name} is not an ISO-8601 time", "INVALID_SIWE_MESSAGE") from None
    if value.tzinfo is None:
        raise bad_request(f"{name} has no time zone", "INVALID_SIWE_MESSAGE")
    return value


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who a request is from, and how it authenticated."""

    account: Account
    via: str  # "session" or "key"
    scope: str  # "trade" for a session (it can do everything), else the key's scope
    key: ApiKey | None = None


class AuthService:
    def __init__(self, seed: int, clock: SimClock) -> None:
        self.clock = clock
        self.rng = random.Random(f"auth-{seed}")  # noqa: S311 - simulation, not security
        self._secret = hashlib.sha256(f"ocx-sim-session-{seed}".encode()).digest()
        self.nonces: dict[str, tuple[str, datetime]] = {}  # nonce -> (address lower, expiry)
        self.revoked: set[str] = set()
        self._keys_by_hash: dict[str, ApiKey] = {}

    def _token(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def nonce(self, body: Any) -> str:
        address = body.get("walletAddress") if isinstance(body, dict) else None
        if not isinstance(address, str) or not is_address(address):
            raise bad_request("walletAddress missing or malformed")
        nonce = self._token(17)
        self.nonces[nonce] = (address.lower(), self.clock.now() + NONCE_TTL)
        return nonce

    def verify_siwe(self, body: Any, host: str) -> str:
        """The wallet address a valid signed message proves; consumes its nonce."""
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("message"), str)
            or not (isinstance(body.get("signature"), str))
        ):
            raise bad_request("message and signature are required")
        message = parse_siwe(body["message"])
        fields = message.fields
        now = self.clock.now()
        if message.domain != host:
            raise bad_request(
                f"the message is for {message.domain[:60]}, not {host}", "INVALID_SIWE_MESSAGE"
            )
        if fields["URI"].split("://", 1)[-1].split("/", 1)[0] != host:
            raise bad_request("the message's URI is not on this host", "INVALID_SIWE_MESSAGE")
        if fields["Version"] != "1" or fields["Chain ID"] != str(CHAIN_ID):
            raise bad_request(f"version must be 1 and chain id {CHAIN_ID}", "INVALID_SIWE_MESSAGE")
        issued = _time(fields["Issued At"], "Issued At")
        if "Expiration Time" not in fields:
            raise bad_request("the message needs an Expiration Time", "INVALID_SIWE_MESSAGE")
        expires = _time(fields["Expiration Time"], "Expiration Time")
        if expires <= now or expires - issued > MAX_MESSAGE_LIFETIME:
            raise bad_request("the message has expired or lives too long", "INVALID_SIWE_MESSAGE")
        issued_for = self.nonces.pop(fields["Nonce"], None)
        if issued_for is None or issued_for[0] != message.address.lower() or issued_for[1] < now:
            raise bad_request("the nonce was not issued for this wallet", "NONCE_MISMATCH")
        try:
            signer = EthAccount.recover_message(
                encode_defunct(text=body["message"]), signature=body["signature"]
            )
        except Exception:  # eth-account raises several types for malformed signatures
            raise ApiError(401, "INVALID_SIGNATURE", "the signature is malformed") from None
        if signer.lower() != message.address.lower():
            raise ApiError(401, "INVALID_SIGNATURE", "the signature is not the address's")
        return str(to_checksum_address(message.address))

    def mint_session(self, account: Account, lifetime: timedelta = SESSION_LIFETIME) -> str:
        now = self.clock.now()
        claims = {
            "sub": account.user_id,
            "addr": account.address,
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": self._token(16),
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def session_claims(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise ApiError(401, "INVALID_SESSION", "the session is not valid") from None
        if claims.get("jti") in self.revoked:
            raise ApiError(401, "SESSION_REVOKED", "the session was signed out")
        if int(claims.get("exp", 0)) <= self.clock.now().timestamp():
            raise ApiError(401, "SESSION_EXPIRED", "the session has expired: sign in again")
        return claims

    def revoke_session(self, token: str) -> None:
        self.revoked.add(str(self.session_claims(token)["jti"]))

    # -- API keys -----------------------------------------------------------------------------

    def create_key(self, account: Account, key_id: str, body: Any) -> tuple[ApiKey, str]:
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        name, scope = body.get("name"), body.get("scope")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            raise bad_request("name must be a string of 1 to 64 characters")
        if scope not in SCOPES:
            raise bad_request("scope must be read or trade")
        ips = body.get("allowedIps") or []
        if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
            raise bad_request("allowedIps must be a list of addresses")
        days = body.get("expiresInDays")
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise bad_request("expiresInDays must be a positive integer")
        now = self.clock.now()
        secret = "ocx_sk_" + self._token(40)
        key = ApiKey(
            key_id,
            account.user_id,
            name,
            scope,
            hash_secret(secret),
            list(ips),
            now,
            None if days is None else now + timedelta(days=days),
        )
        account.keys[key.id] = key
        self._keys_by_hash[key.secret_hash] = key
        return key, secret

    def key_for(self, secret: str, ip: str) -> ApiKey:
        digest = hash_secret(secret)
        key = self._keys_by_hash.get(digest)
        if key is None or not hmac.compare_digest(key.secret_hash, digest):
            raise ApiError(401, "INVALID_API_KEY", "the API key is not valid")
        now = self.clock.now()
        if key.revoked_at is not None:
            raise ApiError(401, "API_KEY_REVOKED", "the API key was revoked")
        if key.expires_at is not None and key.expires_at <= now:
            raise ApiError(401, "API_KEY_EXPIRED", "the API key has expired")
        if key.allowed_ips and ip not in key.allowed_ips:
            raise ApiError(403, "IP_NOT_ALLOWED", "this address may not use the API key")
        key.last_used_at, key.last_used_ip = now, ip
        return key


def key_status(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"
