"""StandX body signatures.

The signed message is ``"v1," + x-request-id + "," + x-request-timestamp (ms) + "," + body``,
where body is the exact bytes sent (compact, spaced or key-sorted JSON: whatever goes on the
wire). The 64-byte ed25519 signature travels as standard base64 with padding.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import nacl.signing

SIGN_VERSION = "v1"


def encode_body(payload: dict[str, Any]) -> bytes:
    """Compact JSON, the form StandX's docs show; the same bytes are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(
    key: nacl.signing.SigningKey, *, request_id: str, timestamp_ms: int, body: bytes
) -> str:
    message = f"{SIGN_VERSION},{request_id},{timestamp_ms},".encode() + body
    return base64.b64encode(key.sign(message).signature).decode()


def signed_headers(
    key: nacl.signing.SigningKey,
    body: bytes,
    *,
    request_id: str | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """The four ``x-request-*`` headers for ``body``."""
    request_id = request_id or str(uuid.uuid4())
    timestamp_ms = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    return {
        "x-request-sign-version": SIGN_VERSION,
        "x-request-id": request_id,
        "x-request-timestamp": str(timestamp_ms),
        "x-request-signature": signature(
            key, request_id=request_id, timestamp_ms=timestamp_ms, body=body
        ),
    }
