"""What every venue client's exception tree shares: the base with ``transient``, the error
answer with its HTTP status, venue code and endpoint, and the redaction of secrets.

Each client keeps its own tree (``standx.errors``, ``perpex.errors``, ``ocx.errors``) for the
venue's own codes; their roots and error answers derive from these. Messages never hold a
secret: clients redact every server message with their own secrets first, and no exception
keeps request headers.
"""

from __future__ import annotations

from collections.abc import Iterable


class ClientError(Exception):
    """Base class. ``transient``: the same safe request may succeed if repeated."""

    transient: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class ClientAPIError(ClientError):
    """The venue answered with an error: ``status`` is the HTTP status, ``code`` its own code."""

    status: int = 0
    code: str = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        endpoint: str = "",
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code:
            self.code = code
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" from {self.endpoint}" if self.endpoint else ""
        code = f" {self.code}" if self.code else ""
        return f"HTTP {self.status}{code}{where}: {self.message}"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-trivial secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text
