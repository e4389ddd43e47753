"""The VAPID key pair that signs our Web Push requests (RFC 8292), read and checked at start-up.

A browser's push subscription is bound to the public key it was made with
(``applicationServerKey``): a new pair orphans every subscription. So the pair is configured once
(``VAPID_PRIVATE_KEY``, ``VAPID_PUBLIC_KEY``, ``VAPID_SUBJECT``, each also as ``<NAME>_FILE``)
and ``make run`` keeps one under ``./var/``. A key that does not parse, a public key that is not
the private key's other half, or a subject push services would refuse stops the process with a
message naming the variable.

This module imports no Django: the launcher generates pairs with it before settings exist.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# What push services accept as the JWT's "sub": a contact address or a site (RFC 8292 §2.1).
_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://[^\s/]+(/\S*)?)$", re.IGNORECASE)


class VapidConfigError(ValueError):
    """A VAPID setting is unusable; the message names the variable."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class VapidKeys:
    """The pair as push services and browsers see it: the raw 32-byte private scalar and the
    65-byte uncompressed public point, both base64url without padding."""

    private_key: str = field(repr=False)
    public_key: str
    subject: str

    def __repr__(self) -> str:
        return f"VapidKeys(public_key={self.public_key!r}, subject={self.subject!r})"


def generate_private_key() -> str:
    """A new private key as base64url of its 32-byte scalar (the web-push tools' format)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def _load_private(text: str) -> ec.EllipticCurvePrivateKey:
    text = text.strip()
    try:
        if "-----BEGIN" in text:
            loaded = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            raw = b64url_decode(text)
            if len(raw) == 32:
                loaded = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                loaded = serialization.load_der_private_key(raw, password=None)
    except ValueError:
        loaded = None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
        loaded.curve, ec.SECP256R1
    ):
        raise VapidConfigError(
            "VAPID_PRIVATE_KEY is not a P-256 private key: give base64url of its 32 bytes "
            "(as `python manage.py vapid_keys` prints), or a PEM file through "
            "VAPID_PRIVATE_KEY_FILE."
        )
    return loaded


def public_key_of(private_key: str) -> str:
    """The base64url uncompressed public point of a private key in any accepted format."""
    public = _load_private(private_key).public_key()
    return b64url(
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def vapid_keys(
    private_key: str | None, public_key: str | None, subject: str | None
) -> VapidKeys | None:
    """The checked pair, or None when no private key is configured (push is then unavailable)."""
    if not private_key:
        if public_key:
            raise VapidConfigError("VAPID_PUBLIC_KEY is set but VAPID_PRIVATE_KEY is not.")
        return None
    loaded = _load_private(private_key)
    raw = loaded.private_numbers().private_value.to_bytes(32, "big")
    derived = public_key_of(private_key)
    if public_key and public_key.strip().rstrip("=") != derived:
        raise VapidConfigError(
            "VAPID_PUBLIC_KEY is not the public half of VAPID_PRIVATE_KEY: browsers would "
            "subscribe with one key and push services would see another. Leave it unset to "
            "derive it."
        )
    if not subject:
        raise VapidConfigError(
            "VAPID_SUBJECT is required with VAPID_PRIVATE_KEY: mailto:you@example.com or "
            "https://your.site, so push services can reach the sender."
        )
    if not _SUBJECT.match(subject.strip()):
        raise VapidConfigError(
            f"VAPID_SUBJECT must be a mailto: address or an https:// URL, not {subject!r}."
        )
    return VapidKeys(private_key=b64url(raw), public_key=derived, subject=subject.strip())
