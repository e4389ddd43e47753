"""The one exception for a client-visible error, in PerpEx's assumed error shape."""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP error answered as ``{"error": {"code": CODE, "message": text}}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "message": self.message}}


def invalid(message: str) -> ApiError:
    """A request the simulator cannot read (400 ``INVALID_REQUEST``)."""
    return ApiError(400, "INVALID_REQUEST", message)


def invalid_order(message: str) -> ApiError:
    """An order that breaks a market rule other than margin (400 ``INVALID_ORDER``)."""
    return ApiError(400, "INVALID_ORDER", message)
