"""One exception tree for everything the StandX client raises.

Messages and reprs never contain the access token, the signing key or a signature: the client
passes every server message through :func:`redact` with its own secrets before raising, and no
exception keeps request headers. Celery pickles exceptions, so this matters beyond logs.
"""

from __future__ import annotations

from collections.abc import Iterable


class StandXError(Exception):
    """Base class. ``transient`` errors may succeed if the same safe request is repeated."""

    transient: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class KeyFormatError(StandXError, ValueError):
    """A signing key or token could not be parsed (the message never echoes the input)."""


class LoginError(StandXError):
    """Wallet sign-in failed: bad challenge, failed verification or a rejected signature."""


class APIError(StandXError):
    """The exchange answered with an error status (or an error ``code`` in a 200 body)."""

    status: int = 0

    def __init__(self, message: str, *, status: int | None = None, endpoint: str = "") -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.endpoint = endpoint

    def __str__(self) -> str:
        where = f" from {self.endpoint}" if self.endpoint else ""
        return f"HTTP {self.status}{where}: {self.message}"


class BadRequestError(APIError):
    status = 400


class AuthenticationError(APIError):
    """401: the token is missing, invalid or revoked. Re-link; never retry."""

    status = 401


class TokenExpiredError(AuthenticationError):
    """401 for a token past its ``exp``."""


class ForbiddenError(APIError):
    status = 403


class InvalidSignatureError(ForbiddenError):
    """403: the body signature did not verify against the key bound to the token."""


class SignatureExpiredError(ForbiddenError):
    """403 "signature has expired": the request timestamp is outside the server's window.

    Usually a wrong system clock; the client can resync its clock offset and sign again.
    """


class NotFoundError(APIError):
    status = 404


class RateLimitedError(APIError):
    """429. ``retry_after`` is in seconds when the server said, else None."""

    status = 429
    transient = True

    def __init__(
        self, message: str, *, retry_after: float | None = None, endpoint: str = ""
    ) -> None:
        super().__init__(message, status=429, endpoint=endpoint)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx from the exchange."""

    status = 500
    transient = True


class UnavailableError(StandXError):
    """The exchange could not be reached (connection refused, DNS, TLS, reset)."""

    transient = True


class RequestTimeoutError(UnavailableError):
    """No answer within the client's timeout."""


class BadResponseError(StandXError):
    """The exchange answered with something that is not the documented shape (malformed JSON)."""

    transient = True


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-trivial secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text
