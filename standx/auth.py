"""Wallet sign-in: temporary ed25519 key → prepare-signin → verified challenge → wallet
signature → login → access token.

The flow is split so that the wallet signature can come from outside (a browser wallet):
:func:`begin_login` returns a :class:`PendingLogin` whose ``message`` the wallet signs, and
:func:`complete_login` finishes with that signature. The temporary key becomes the account's
request-signing key, so the caller must keep the pending login (encrypted) between the two.
A local wallet private key (:func:`login_with_wallet_key`) is a convenience for the CLI and tests.

Reference: https://docs.standx.com/standx-api/perps-auth and the protocol notes §1.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from typing import Any

import base58
import httpx
import jwt
import nacl.exceptions
import nacl.signing
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

from standx import errors, keys
from standx.models import LoginResult
from standx.rest import USER_AGENT, Credentials, Endpoints

CHAINS = ("bsc", "solana")
CLOCK_LEEWAY_S = 60


def normalise_address(chain: str, address: str) -> str:
    """EIP-55 checksum form for EVM (what SIWE expects); base58 public key for Solana."""
    address = address.strip()
    if chain == "bsc":
        if not is_address(address):
            raise errors.LoginError("That is not an EVM wallet address (0x followed by 40 hex).")
        return str(to_checksum_address(address))
    if chain == "solana":
        try:
            raw = base58.b58decode(address)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise errors.LoginError("That is not a Solana wallet address (base58 public key).")
        return address
    raise errors.LoginError(f"Unknown chain {chain!r}; use one of {', '.join(CHAINS)}.")


class AuthClient:
    """The auth host's three endpoints (``/v1/offchain/...``)."""

    def __init__(
        self,
        endpoints: Endpoints | None = None,
        *,
        http_client: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base = (endpoints or Endpoints()).auth_url
        self._http = http_client or httpx.Client(
            timeout=timeout, headers={"user-agent": USER_AGENT}
        )
        self._owns_http = http_client is None

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AuthClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, chain: str | None = None, body: Any = None) -> Any:
        params = {"chain": chain} if chain else None
        try:
            response = self._http.request(method, self.base + path, params=params, json=body)
        except httpx.TimeoutException:
            raise errors.RequestTimeoutError(f"{path}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise errors.UnavailableError(f"{path}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            message = "error"
            if isinstance(data, dict):
                message = str(data.get("message") or data.get("msg") or message)
            if response.status_code >= 500:
                raise errors.ServerError(message, status=response.status_code, endpoint=path)
            if response.status_code == 429:
                raise errors.RateLimitedError(message, endpoint=path)
            raise errors.LoginError(f"StandX refused the sign-in: {message}")
        if data is None:
            raise errors.BadResponseError(f"{path}: the body is not JSON")
        return data

    def certs(self) -> list[dict[str, Any]]:
        """The JWKS that signs the ``signedData`` challenges."""
        data = self._call("GET", "/v1/offchain/certs")
        keys_ = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(keys_, list) or not keys_:
            raise errors.BadResponseError("/v1/offchain/certs: no keys")
        return [k for k in keys_ if isinstance(k, dict)]

    def prepare_signin(self, *, chain: str, address: str, request_id: str) -> str:
        data = self._call(
            "POST",
            "/v1/offchain/prepare-signin",
            chain=chain,
            body={"address": address, "requestId": request_id},
        )
        if not isinstance(data, dict) or data.get("success") is not True:
            message = data.get("message") if isinstance(data, dict) else None
            raise errors.LoginError(f"StandX refused the sign-in: {message or 'no challenge'}")
        signed = data.get("signedData")
        if not isinstance(signed, str):
            raise errors.BadResponseError("prepare-signin: no signedData")
        return signed

    def login(
        self, *, chain: str, signature: str, signed_data: str, expires_seconds: int | None = None
    ) -> LoginResult:
        body: dict[str, Any] = {"signature": signature, "signedData": signed_data}
        if expires_seconds is not None:
            body["expiresSeconds"] = int(expires_seconds)
        data = self._call("POST", "/v1/offchain/login", chain=chain, body=body)
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            message = data.get("message") if isinstance(data, dict) else None
            raise errors.LoginError(f"StandX refused the sign-in: {message or 'no token'}")
        return LoginResult.parse(data)


def verify_signed_data(
    signed_data: str,
    jwks: list[dict[str, Any]],
    *,
    chain: str,
    address: str,
    request_id: str,
    now: float | None = None,
) -> dict[str, Any]:
    """Check the challenge: ES256 by the JWKS key named by ``kid``, unexpired, ours.

    Returns the payload. Raises :class:`LoginError` on any mismatch.
    """
    try:
        header = jwt.get_unverified_header(signed_data)
    except jwt.PyJWTError:
        raise errors.LoginError("The sign-in challenge is not a JWT.") from None
    if header.get("alg") != "ES256":
        raise errors.LoginError("The sign-in challenge is not signed with ES256.")
    kid = header.get("kid")
    candidates = [k for k in jwks if kid is None or k.get("kid") == kid]
    if not candidates:
        raise errors.LoginError("The sign-in challenge names a key StandX does not publish.")
    try:
        public_key = jwt.PyJWK(candidates[0], algorithm="ES256").key
        payload: dict[str, Any] = jwt.decode(
            signed_data,
            key=public_key,
            algorithms=["ES256"],
            leeway=CLOCK_LEEWAY_S,
            options={"require": ["exp"], "verify_aud": False, "verify_iat": False},
        )
    except jwt.ExpiredSignatureError:
        raise errors.LoginError("The sign-in challenge has expired; start again.") from None
    except jwt.PyJWTError:
        raise errors.LoginError("The sign-in challenge failed verification.") from None
    current = time.time() if now is None else now
    iat = payload.get("iat")
    if isinstance(iat, int | float) and iat > current + CLOCK_LEEWAY_S:
        raise errors.LoginError("The sign-in challenge is dated in the future.")
    if payload.get("requestId") != request_id:
        raise errors.LoginError("The sign-in challenge is for another request.")
    got = str(payload.get("address", ""))
    same = got.lower() == address.lower() if chain == "bsc" else got == address
    if not same:
        raise errors.LoginError("The sign-in challenge is for another wallet.")
    if not isinstance(payload.get("message"), str) or not payload["message"]:
        raise errors.LoginError("The sign-in challenge has no message to sign.")
    return payload


@dataclass(frozen=True)
class PendingLogin:
    """A challenge waiting for the wallet's signature. Holds the temporary key: keep it secret."""

    chain: str
    address: str
    signed_data: str = field(repr=False)
    payload: dict[str, Any] = field(repr=False)
    signing_key: nacl.signing.SigningKey = field(repr=False)

    @property
    def message(self) -> str:
        """The exact text the wallet must sign."""
        return str(self.payload["message"])

    @property
    def request_id(self) -> str:
        return keys.public_key_base58(self.signing_key)

    @property
    def expires_at(self) -> float:
        return float(self.payload.get("exp", 0))

    def to_state(self) -> dict[str, str]:
        """Serialisable form (contains the temporary key seed: encrypt it at rest)."""
        return {
            "chain": self.chain,
            "address": self.address,
            "signed_data": self.signed_data,
            "seed": keys.seed_base58(self.signing_key),
        }

    @classmethod
    def from_state(cls, state: dict[str, str]) -> PendingLogin:
        payload = keys.jwt_claims(state["signed_data"])
        return cls(
            chain=state["chain"],
            address=state["address"],
            signed_data=state["signed_data"],
            payload=payload,
            signing_key=keys.parse_signing_key(state["seed"]),
        )


@dataclass(frozen=True)
class Session:
    """A completed login: credentials (token + signing key) and what StandX said about us."""

    credentials: Credentials
    address: str
    chain: str
    alias: str | None


def begin_login(auth: AuthClient, *, chain: str, address: str) -> PendingLogin:
    """Start a wallet sign-in: a temporary key, a challenge from StandX, verified."""
    address = normalise_address(chain, address)
    key = keys.new_signing_key()
    request_id = keys.public_key_base58(key)
    signed_data = auth.prepare_signin(chain=chain, address=address, request_id=request_id)
    payload = verify_signed_data(
        signed_data, auth.certs(), chain=chain, address=address, request_id=request_id
    )
    return PendingLogin(chain, address, signed_data, payload, key)


def _signature_bytes(signature: str | bytes) -> bytes:
    """A raw ed25519 signature given as bytes, base58, base64 or hex."""
    if isinstance(signature, bytes):
        raw = signature
    else:
        text = signature.strip()
        raw = b""
        for decode in (
            lambda t: bytes.fromhex(t.removeprefix("0x")),
            base58.b58decode,
            lambda t: base64.b64decode(t, validate=True),
        ):
            try:
                raw = decode(text)
            except (ValueError, binascii.Error):
                continue
            if len(raw) == 64:
                break
    if len(raw) != 64:
        raise errors.LoginError("The wallet's signature is not a 64-byte ed25519 signature.")
    return raw


def solana_envelope(payload: dict[str, Any], signature: bytes, public_key: bytes) -> str:
    """Standard base64 of the compact JSON envelope StandX's SVM example sends."""
    envelope = {
        "input": payload,
        "output": {
            "signedMessage": list(str(payload["message"]).encode()),
            "signature": list(signature),
            "account": {"publicKey": list(public_key)},
        },
    }
    compact = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(compact.encode()).decode()


def complete_login(
    auth: AuthClient,
    pending: PendingLogin,
    signature: str | bytes,
    *,
    expires_seconds: int | None = None,
) -> Session:
    """Finish a sign-in with the wallet's signature of ``pending.message``.

    EVM: the ``personal_sign`` hex (with or without ``0x``). Solana: the raw ed25519 signature
    (bytes, base58, base64 or hex); it is checked here, then wrapped in StandX's envelope.
    """
    if time.time() > pending.expires_at + CLOCK_LEEWAY_S:
        raise errors.LoginError("The sign-in challenge has expired; start again.")
    if pending.chain == "bsc":
        text = signature.decode() if isinstance(signature, bytes) else signature.strip()
        sig = text if text.startswith("0x") else "0x" + text
        try:
            signer = Account.recover_message(encode_defunct(text=pending.message), signature=sig)
        except Exception:  # eth-account raises several types for malformed input
            raise errors.LoginError("The wallet's signature is malformed.") from None
        if signer.lower() != pending.address.lower():
            raise errors.LoginError("The signature is from another wallet than the one signing in.")
        wire = sig
    else:
        raw = _signature_bytes(signature)
        public_key = base58.b58decode(pending.address)
        try:
            nacl.signing.VerifyKey(public_key).verify(pending.message.encode(), raw)
        except nacl.exceptions.BadSignatureError:
            raise errors.LoginError("The signature does not match the wallet's key.") from None
        wire = solana_envelope(pending.payload, raw, public_key)
    result = auth.login(
        chain=pending.chain,
        signature=wire,
        signed_data=pending.signed_data,
        expires_seconds=expires_seconds,
    )
    return Session(
        credentials=Credentials(result.token, pending.signing_key),
        address=result.address,
        chain=result.chain,
        alias=result.alias,
    )


def evm_address(private_key: str) -> str:
    return str(Account.from_key(private_key).address)


def evm_sign(private_key: str, message: str) -> str:
    """EIP-191 ``personal_sign`` of ``message``: 65 bytes r||s||v (v = 27/28) as 0x-hex."""
    signed = Account.sign_message(encode_defunct(text=message), private_key=private_key)
    return "0x" + bytes(signed.signature).hex().removeprefix("0x")


def solana_key(secret: str) -> nacl.signing.SigningKey:
    """A Solana wallet key from base58 of the 64-byte keypair or of the 32-byte seed."""
    return keys.parse_signing_key(secret)


def solana_address(key: nacl.signing.SigningKey) -> str:
    return keys.public_key_base58(key)


def login_with_wallet_key(
    auth: AuthClient, *, chain: str, wallet_key: str, expires_seconds: int | None = None
) -> Session:
    """The whole sign-in with a local wallet key (CLI and tests; browsers use the split flow)."""
    if chain == "bsc":
        pending = begin_login(auth, chain=chain, address=evm_address(wallet_key))
        return complete_login(
            auth, pending, evm_sign(wallet_key, pending.message), expires_seconds=expires_seconds
        )
    if chain == "solana":
        key = solana_key(wallet_key)
        pending = begin_login(auth, chain=chain, address=solana_address(key))
        raw = key.sign(pending.message.encode()).signature
        return complete_login(auth, pending, raw, expires_seconds=expires_seconds)
    raise errors.LoginError(f"Unknown chain {chain!r}; use one of {', '.join(CHAINS)}.")
