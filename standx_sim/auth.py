"""Wallet login (protocol section 1) and access tokens.

- `prepare-signin` returns an ES256 JWT (`signedData`, header with `kid`) whose payload carries a
  SIWE-style `message`, valid 180 s. The signing key is derived from the seed; `certs` is its JWKS.
- `prepare-signin` accepts any non-empty string as `requestId`. The protocol notes (section 1.1)
  say it is the base58 ed25519 public key, and every client sends that, but the live server also
  accepts a UUID, and login and reads then work. Such a token is bound to no signing key, so its
  signed requests fail with 403 "invalid body signature" (see `signing.py`).
- `login` verifies an EIP-191 `personal_sign` (BSC; with or without `0x`, any address case) or
  the Solana envelope of section 1.5, consumes the challenge (one login per challenge), and
  binds the challenge's `requestId` public key (if it is one) to the new access token as its
  signing key.
- Solana: the proof is `output` alone: `signature` must verify over `signedMessage` with
  `account.publicKey` (which must be the address), and `signedMessage` must equal the challenge's
  message. `input` is not read. Section 1.5 asks for `signedMessage == input.message`, but the
  standard wallet sign-in input (Solana Wallet Standard `signIn`) has no `message` field and
  the live server accepts it; the docs' envelope (whole payload as `input`) and SBT's (the
  message string as `input`) pass the same check.
- Access tokens are HS256 JWTs. Claims: `iss`="standx-sim", `sub`=user id ("bsc_0x..." with a
  lower-case address, or "solana_<base58>"), `address` (as the wallet gave it), `chain`, `jti`,
  `iat`, `exp` (`iat` + `expiresSeconds`, default 604800). The token -> signing-key binding lives
  in server memory, keyed by `jti`, so a token from another process is refused with 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import string
from dataclasses import dataclass
from typing import Any

import base58
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account
from eth_account.messages import encode_defunct
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from standx_sim.clock import Clock, iso_millis, utc_now
from standx_sim.errors import ApiError
from standx_sim.signing import request_key

CHAINS = ("bsc", "solana")
CHALLENGE_SECONDS = 180
DEFAULT_TOKEN_SECONDS = 604_800
BSC_CHAIN_ID = 56
# No public source shows the Solana signedData; a numeric chainId keeps typed clients happy.
SOLANA_CHAIN_ID = 101
STATEMENT = "Sign in with Ethereum to access more StandX features..."
EVM_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def user_id(chain: str, address: str) -> str:
    return f"{chain}_{address.lower() if chain == 'bsc' else address}"


def validate_address(chain: str, address: Any) -> str:
    if not isinstance(address, str) or not address:
        raise ApiError(400, "address is required")
    if chain == "bsc":
        if not EVM_ADDRESS.match(address):
            raise ApiError(400, f"invalid bsc address: {address}")
        return address
    try:
        raw = base58.b58decode(address)
    except ValueError:
        raise ApiError(400, f"invalid solana address: {address}") from None
    if len(raw) != 32:
        raise ApiError(400, f"invalid solana address: {address}")
    return address


def validate_chain(chain: str | None) -> str:
    if chain not in CHAINS:
        raise ApiError(400, "chain must be bsc or solana")
    return chain


@dataclass(frozen=True)
class TokenInfo:
    user: str
    chain: str
    address: str
    jti: str
    exp: int
    key: VerifyKey | None  # None when the login requestId was no public key


@dataclass(frozen=True)
class LoginResult:
    chain: str
    address: str
    request_key: VerifyKey | None


class AuthService:
    def __init__(self, seed: int, clock: Clock = utc_now) -> None:
        self.clock = clock
        # Seeded on purpose: a run is reproducible for a given --seed (this is a simulator).
        self._rng = random.Random(f"auth-{seed}")  # noqa: S311
        digest = hashlib.sha256(f"standx-sim-es256-{seed}".encode()).digest()
        secret_value = int.from_bytes(digest, "big") % (P256_ORDER - 1) + 1
        self._es_key = ec.derive_private_key(secret_value, ec.SECP256R1())
        self._es_public = self._es_key.public_key()
        numbers = self._es_public.public_numbers()
        self.kid = "sim-" + hashlib.sha256(f"kid-{seed}".encode()).hexdigest()[:16]
        self._jwk = {
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": self.kid,
            "x": _b64url(numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.y.to_bytes(32, "big")),
        }
        self._hs_secret = hashlib.sha256(f"standx-sim-hs256-{seed}".encode()).hexdigest()
        self._challenges: dict[str, tuple[str, int]] = {}  # unused nonce -> (chain, exp)
        self._tokens: dict[str, TokenInfo] = {}  # jti -> info
        self._cache: dict[str, TokenInfo] = {}  # token string -> info (skips JWT decoding)
        self._jti_counter = 0

    # -- challenge ------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._jwk)]}

    def prepare_signin(self, chain: str | None, body: Any) -> dict[str, Any]:
        chain = validate_chain(chain)
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        address = validate_address(chain, body.get("address"))
        request_id = body.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise ApiError(400, "requestId is required")
        now = self.clock()
        iat = int(now.timestamp())
        nonce = "".join(self._rng.choices(string.ascii_letters + string.digits, k=17))
        chain_id = BSC_CHAIN_ID if chain == "bsc" else SOLANA_CHAIN_ID
        account_kind = "Ethereum" if chain == "bsc" else "Solana"
        issued_at = iso_millis(now)
        message = (
            f"standx.com wants you to sign in with your {account_kind} account:\n"
            f"{address}\n\n{STATEMENT}\n\n"
            f"URI: https://standx.com\nVersion: 1\nChain ID: {chain_id}\n"
            f"Nonce: {nonce}\nIssued At: {issued_at}\nRequest ID: {request_id}"
        )
        payload = {
            "domain": "standx.com",
            "uri": "https://standx.com",
            "statement": STATEMENT,
            "version": "1",
            "chainId": chain_id,
            "nonce": nonce,
            "address": address,
            "requestId": request_id,
            "issuedAt": issued_at,
            "message": message,
            "exp": iat + CHALLENGE_SECONDS,
            "iat": iat,
        }
        if len(self._challenges) > 10_000:
            # Unused challenges expire after 180 s; forget those so the store stays bounded.
            self._challenges = {n: c for n, c in self._challenges.items() if c[1] > iat}
        self._challenges[nonce] = (chain, iat + CHALLENGE_SECONDS)
        token = jwt.encode(payload, self._es_key, algorithm="ES256", headers={"kid": self.kid})
        return {"success": True, "signedData": token}

    # -- login ----------------------------------------------------------------------------

    def login(self, chain: str | None, body: Any) -> LoginResult:
        chain = validate_chain(chain)
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        signed_data = body.get("signedData")
        signature = body.get("signature")
        if not isinstance(signed_data, str) or not isinstance(signature, str):
            raise ApiError(400, "signature and signedData are required")
        try:
            payload = jwt.decode(
                signed_data,
                self._es_public,
                algorithms=["ES256"],
                options={"require": ["exp", "iat"]},
                leeway=0,
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "signedData has expired") from None
        except jwt.PyJWTError:
            raise ApiError(400, "invalid signedData") from None
        nonce = str(payload.get("nonce"))
        stored = self._challenges.get(nonce)
        if stored is None or stored[0] != chain:
            raise ApiError(401, "unknown, used or other-chain challenge")
        address = str(payload["address"])
        message = str(payload["message"])
        if chain == "bsc":
            self._verify_evm(address, message, signature)
        else:
            self._verify_solana(address, message, signature)
        del self._challenges[nonce]
        return LoginResult(chain, address, request_key(str(payload["requestId"])))

    @staticmethod
    def _verify_evm(address: str, message: str, signature: str) -> None:
        text = signature.strip()
        text = text[2:] if text[:2].lower() == "0x" else text
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ApiError(400, "signature is not hex") from None
        if len(raw) != 65:
            raise ApiError(400, "signature must be 65 bytes (r||s||v)")
        try:
            recovered = Account.recover_message(encode_defunct(text=message), signature=raw)
        except Exception:  # eth-keys raises several types for malformed r/s/v
            raise ApiError(401, "invalid signature") from None
        if recovered.lower() != address.lower():
            raise ApiError(401, "signature does not match address")

    @staticmethod
    def _verify_solana(address: str, message: str, signature: str) -> None:
        try:
            envelope = json.loads(base64.b64decode(signature, validate=False))
            output = envelope["output"]
            public_key = bytes(output["account"]["publicKey"])
            signed_message = bytes(output["signedMessage"])
            raw_signature = bytes(output["signature"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise ApiError(400, "signature must be base64 of the solana JSON envelope") from None
        if base58.b58encode(public_key).decode() != address:
            raise ApiError(401, "signature public key does not match address")
        # `input` is deliberately not compared (module docstring): the signed bytes are the proof.
        if signed_message != message.encode():
            raise ApiError(401, "signed message does not match the challenge")
        try:
            VerifyKey(public_key).verify(signed_message, raw_signature)
        except (BadSignatureError, ValueError):
            raise ApiError(401, "invalid signature") from None

    # -- access tokens --------------------------------------------------------------------

    def mint(
        self,
        chain: str,
        address: str,
        key: VerifyKey | None,
        expires_seconds: int = DEFAULT_TOKEN_SECONDS,
    ) -> str:
        self._jti_counter += 1
        jti = f"{self._jti_counter:08d}-{self._rng.getrandbits(64):016x}"
        iat = int(self.clock().timestamp())
        user = user_id(chain, address)
        claims = {
            "iss": "standx-sim",
            "sub": user,
            "address": address,
            "chain": chain,
            "jti": jti,
            "iat": iat,
            "exp": iat + expires_seconds,
        }
        self._tokens[jti] = TokenInfo(user, chain, address, jti, iat + expires_seconds, key)
        return jwt.encode(claims, self._hs_secret, algorithm="HS256")

    def resolve(self, authorization: str | None) -> TokenInfo:
        """Map an `Authorization: Bearer <jwt>` header (or a bare token) to its binding."""
        if not authorization:
            raise ApiError(401, "missing bearer token")
        token = authorization[7:] if authorization[:7].lower() == "bearer " else authorization
        token = token.strip()
        info = self._cache.get(token)
        if info is None:
            try:
                claims = jwt.decode(token, self._hs_secret, algorithms=["HS256"])
            except jwt.ExpiredSignatureError:
                raise ApiError(401, "token has expired") from None
            except jwt.PyJWTError:
                raise ApiError(401, "invalid token") from None
            found = self._tokens.get(str(claims.get("jti")))
            if found is None:
                raise ApiError(401, "unknown token")
            info = found
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[token] = info
        if info.exp <= self.clock().timestamp():
            raise ApiError(401, "token has expired")
        return info
