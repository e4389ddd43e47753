"""Recovery codes: ten single-use codes, 80 random bits each, kept only as SHA-256 digests.

80 bits is beyond brute force, so a plain digest (no slow hash) is enough and lets a code be
found with one indexed lookup. Pure: no Django."""

from __future__ import annotations

import base64
import hashlib
import secrets

COUNT = 10
_CODE_BYTES = 10  # 80 bits → 16 base32 characters


def new_codes(count: int = COUNT) -> list[str]:
    return [_format(secrets.token_bytes(_CODE_BYTES)) for _ in range(count)]


def _format(raw: bytes) -> str:
    text = base64.b32encode(raw).decode().lower()
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def normalize(code: str) -> str:
    """What the user typed, without spaces, dashes or case: "ABCD efgh-…" → "abcdefgh…"."""
    return "".join(ch for ch in code.lower() if ch.isascii() and ch.isalnum())


def looks_like_recovery_code(code: str) -> bool:
    return len(normalize(code)) == 16


def digest(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()
