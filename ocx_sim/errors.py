"""The one exception every layer raises for a client-visible error, in OCX's error shape."""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """An HTTP error answered as ``{"error": CODE, "message": ...}`` (docs.ocx.global's shape);
    a 429 adds ``retryAfterMs`` and a ``Retry-After`` header in whole seconds."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after_ms: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_ms = retry_after_ms
        self.details = details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.retry_after_ms is not None:
            out["retryAfterMs"] = self.retry_after_ms
        if self.details:
            out["details"] = self.details
        return out

    def headers(self) -> dict[str, str]:
        if self.retry_after_ms is None:
            return {}
        return {"Retry-After": str(max(1, math.ceil(self.retry_after_ms / 1000)))}


def bad_request(message: str, code: str = "VALIDATION_ERROR") -> ApiError:
    return ApiError(400, code, message)


def rejected(code: str, message: str) -> ApiError:
    """A business rejection: the request was valid but the engine declined it."""
    return ApiError(422, code, message)
