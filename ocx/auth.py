"""Sign-in with Ethereum (EIP-4361) and the credentials it yields.

The flow is split so the signature can come from a browser wallet: :func:`siwe_message` builds
the text for a nonce from ``POST /auth/nonce``, the wallet ``personal_sign``s it, and
``POST /auth/siwe`` answers with the session JWT in the ``astra_session`` cookie (valid 7 days).
:class:`Session` keeps that JWT and knows when it expires; :class:`ApiKey` keeps an
``ocx_sk_`` secret. Neither shows its secret in a repr, and neither can be pickled.
:func:`sign` is the local-key signer for the CLI and tests (the browser signs for itself).

Reference: docs.ocx.global ``get-started/authentication``; ocx.gitbook.io ``auth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

from ocx.errors import KeyFormatError, LoginError

SESSION_COOKIE = "astra_session"
DEFAULT_CHAIN_ID = 84532  # the docs' example (Base Sepolia); a setting for the real venue
DEFAULT_STATEMENT = "Sign in to OCX to continue."
MESSAGE_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class SiweParams:
    """What the message names: OCX's host (``domain``), its URL, the chain and a statement."""

    domain: str
    uri: str
    chain_id: int = DEFAULT_CHAIN_ID
    statement: str = DEFAULT_STATEMENT

    @classmethod
    def for_api(cls, base_url: str, chain_id: int = DEFAULT_CHAIN_ID) -> SiweParams:
        """The API's own host as domain and its origin as URI (what the gitbook's example
        signs for ``api.ocx.global``)."""
        parts = urlsplit(base_url)
        return cls(parts.netloc, f"{parts.scheme}://{parts.netloc}", chain_id)


def checksum_address(address: str) -> str:
    address = address.strip()
    if not is_address(address):
        raise LoginError("That is not an EVM wallet address (0x followed by 40 hex).")
    return str(to_checksum_address(address))


def _iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def siwe_message(
    params: SiweParams,
    address: str,
    nonce: str,
    *,
    issued_at: datetime | None = None,
    lifetime: timedelta = MESSAGE_LIFETIME,
) -> str:
    """The EIP-4361 text for ``address`` to sign."""
    issued = issued_at or datetime.now(UTC)
    return "\n".join(
        [
            f"{params.domain} wants you to sign in with your Ethereum account:",
            checksum_address(address),
            "",
            params.statement,
            "",
            f"URI: {params.uri}",
            "Version: 1",
            f"Chain ID: {params.chain_id}",
            f"Nonce: {nonce}",
            f"Issued At: {_iso(issued)}",
            f"Expiration Time: {_iso(issued + lifetime)}",
        ]
    )


@dataclass(frozen=True)
class PendingSignIn:
    """A message waiting for the wallet's signature (nothing secret in it)."""

    address: str
    nonce: str
    message: str


def wallet_address(private_key: str) -> str:
    try:
        return str(Account.from_key(private_key.strip()).address)
    except Exception:  # eth-account raises several types; the key is never echoed
        raise KeyFormatError("The wallet key is not a 32-byte hex private key.") from None


def sign(private_key: str, message: str) -> str:
    """EIP-191 ``personal_sign`` of ``message`` with a local key, as 0x-hex."""
    try:
        signed = Account.sign_message(encode_defunct(text=message), private_key=private_key.strip())
    except Exception:
        raise KeyFormatError("The wallet key is not a 32-byte hex private key.") from None
    return "0x" + bytes(signed.signature).hex().removeprefix("0x")


def verify_signature(message: str, signature: str, address: str) -> None:
    """Raise :class:`LoginError` unless ``signature`` is ``address``'s signature of ``message``
    (checked before it is sent: a wrong wallet gets a plain sentence, not a 401)."""
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:
        raise LoginError("The wallet's signature is malformed.") from None
    if signer.lower() != address.lower():
        raise LoginError("The signature is from another wallet than the one signing in.")


class Session:
    """A signed-in session: the JWT OCX set as its cookie, sent back as a bearer token (or as
    the cookie). ``expires_at`` is the JWT's ``exp``, read without verifying (OCX verifies)."""

    __slots__ = ("_token", "cookie_name", "expires_at", "user_id", "wallet_address")

    def __init__(
        self,
        token: str,
        *,
        user_id: str | None = None,
        wallet_address: str | None = None,
        cookie_name: str = SESSION_COOKIE,
    ) -> None:
        token = token.strip()
        try:
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise KeyFormatError("The OCX session is not a JWT.") from None
        exp = claims.get("exp")
        self._token = token
        self.cookie_name = cookie_name
        self.expires_at = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
        self.user_id = user_id or (str(claims["sub"]) if claims.get("sub") else None)
        self.wallet_address = wallet_address or claims.get("addr") or claims.get("walletAddress")

    @property
    def token(self) -> str:
        return self._token

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def __repr__(self) -> str:
        return (
            f"Session(user_id={self.user_id!r}, wallet_address={self.wallet_address!r}, "
            f"expires_at={self.expires_at!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an OCX session cannot be pickled; pass an account id instead")


class ApiKey:
    """An ``x-api-key`` secret and what is known about it (its scope, the user it belongs to)."""

    __slots__ = ("_secret", "key_id", "scope", "user_id")

    def __init__(
        self,
        secret: str,
        *,
        scope: str | None = None,
        key_id: str | None = None,
        user_id: str | None = None,
    ) -> None:
        secret = secret.strip()
        if not secret or any(c.isspace() for c in secret):
            raise KeyFormatError("The OCX API key is empty or has spaces in it.")
        self._secret = secret
        self.scope = scope
        self.key_id = key_id
        self.user_id = user_id

    @property
    def secret(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        return f"ApiKey(key_id={self.key_id!r}, scope={self.scope!r}, user_id={self.user_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("an OCX API key cannot be pickled; pass an account id instead")
