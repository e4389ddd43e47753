"""Encryption at rest for StandX credentials (tokens and request-signing keys).

XChaCha20-Poly1305 (libsodium through PyNaCl) under keys from ``CREDENTIAL_KEYS``: the first key
encrypts, every listed key decrypts, so rotation is "prepend a new key, run
``manage.py rotate_credential_keys``, drop the old key". The *context* (e.g. the account's id and
the field name) is authenticated as associated data: a ciphertext copied to another row, or into
another field, fails to decrypt. Stored form: ``v1.<key id>.<base64url(nonce || ciphertext)>``.

Decrypt only where a request to StandX is made (the worker, an order submission): never to show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
import nacl.utils
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "v1"
_NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_KEY_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_KEYBYTES


class CredentialKeyError(ImproperlyConfigured):
    """CREDENTIAL_KEYS is missing or malformed."""


class DecryptionError(Exception):
    """A stored credential could not be decrypted (wrong key, wrong row, or tampered)."""


@dataclass(frozen=True)
class Key:
    id: str
    secret: bytes

    def __repr__(self) -> str:
        return f"Key(id={self.id!r})"


def _key_id(secret: bytes) -> str:
    # A short public fingerprint so rotation can count rows per key without trying each one.
    return hashlib.blake2b(secret, digest_size=4, person=b"standx-ck").hexdigest()


def parse_keys(values: list[str]) -> list[Key]:
    if not values:
        raise CredentialKeyError(
            "CREDENTIAL_KEYS is empty: set it to one or more base64-encoded 32-byte keys "
            '(python -c "import base64,os;print(base64.b64encode(os.urandom(32)).decode())").'
        )
    keys = []
    for position, value in enumerate(values, start=1):
        try:
            secret = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) != _KEY_BYTES:
            raise CredentialKeyError(
                f"CREDENTIAL_KEYS entry {position} is not base64 of exactly 32 bytes."
            )
        keys.append(Key(_key_id(secret), secret))
    return keys


def configured_keys() -> list[Key]:
    return parse_keys(list(settings.CREDENTIAL_KEYS))


def encrypt(plaintext: str, *, context: str, keys: list[Key] | None = None) -> str:
    key = (keys or configured_keys())[0]
    nonce = nacl.utils.random(_NONCE_BYTES)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext.encode(), context.encode(), nonce, key.secret
    )
    blob = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
    return f"{VERSION}.{key.id}.{blob}"


def key_id_of(stored: str) -> str | None:
    parts = stored.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == VERSION else None


def decrypt(stored: str, *, context: str, keys: list[Key] | None = None) -> str:
    """The plaintext, or :class:`DecryptionError` (never a silent fallback to the stored text)."""
    parts = stored.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise DecryptionError("The stored credential is not in a known format.")
    available = keys or configured_keys()
    key = next((k for k in available if k.id == parts[1]), None)
    if key is None:
        raise DecryptionError(
            "The stored credential was encrypted with a key that is not in CREDENTIAL_KEYS."
        )
    try:
        raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            raw[_NONCE_BYTES:], context.encode(), raw[:_NONCE_BYTES], key.secret
        )
    except (binascii.Error, ValueError, nacl.exceptions.CryptoError):
        raise DecryptionError(
            "The stored credential does not decrypt for this record (wrong row or tampered)."
        ) from None
    return bytes(plain).decode()
