"""The one exception every layer raises for a client-visible error."""

from __future__ import annotations


class ApiError(Exception):
    """An HTTP error with a JSON body `{"code": status, "message": message}`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"code": self.status, "message": self.message}
