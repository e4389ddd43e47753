"""One exception tree for everything the StandX client raises.

Messages and reprs never contain the access token, the signing key or a signature: the client
passes every server message through :func:`redact` with its own secrets before raising, and no
exception keeps request headers. Celery pickles exceptions, so this matters beyond logs.
"""

from __future__ import annotations

from exchange_common.errors import ClientAPIError, ClientError


class StandXError(ClientError):
    """Base class. ``transient`` errors may succeed if the same safe request is repeated."""


class KeyFormatError(StandXError, ValueError):
    """A signing key or token could not be parsed (the message never echoes the input)."""


class LoginError(StandXError):
    """Wallet sign-in failed: bad challenge, failed verification or a rejected signature."""


class APIError(ClientAPIError, StandXError):
    """The exchange answered with an error status (or an error ``code`` in a 200 body)."""


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
