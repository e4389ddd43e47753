"""One exception tree for everything the OCX client raises.

Messages and reprs never contain the session, an API key or a wallet key: the client passes
every server message through ``redact`` with its own secrets before raising,
and no exception keeps request headers (Celery pickles exceptions, so this matters beyond
logs). Statuses follow docs.ocx.global ``api-reference/errors``; ``code`` is the machine code.
"""

from __future__ import annotations

from exchange_common.errors import ClientAPIError, ClientError


class OCXError(ClientError):
    """Base class. ``transient`` errors may succeed if the same safe request is repeated."""


class LoginError(OCXError):
    """Sign-in with Ethereum failed: a bad nonce, message or signature (``code``: OCX's, when
    OCX refused it)."""

    code: str = ""


class KeyFormatError(OCXError, ValueError):
    """A wallet key, session or API key that cannot be used (never echoed)."""


class APIError(ClientAPIError, OCXError):
    """OCX answered with an error status."""


class BadRequestError(APIError):
    """400: malformed body, invalid enum, or not enough in the source bucket."""

    status = 400


class AuthExpiredError(APIError):
    """401: the session or key is missing, expired or revoked. Sign in again; never retry."""

    status = 401


class ForbiddenError(APIError):
    """403: wrong scope, an address the key does not allow, or a session is needed."""

    status = 403


class NotFoundError(APIError):
    status = 404


class DuplicateOrderError(APIError):
    """409: the clientOrderId was used already (or a conflicting state): the request was
    applied before. Reconcile; never resend."""

    status = 409


class RejectedError(APIError):
    """422: a valid request the engine declined (``code``: INSUFFICIENT_MARGIN, ...)."""

    status = 422


class RateLimitedError(APIError):
    """429. ``retry_after`` in seconds (from ``retryAfterMs`` or ``Retry-After``)."""

    status = 429
    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: str = "",
        endpoint: str = "",
    ) -> None:
        super().__init__(message, status=429, code=code, endpoint=endpoint)
        self.retry_after = retry_after


class ServerError(APIError):
    status = 500
    transient = True


class UnavailableError(OCXError):
    """OCX could not be reached (connection refused, DNS, TLS, reset, timeout)."""

    transient = True


class BadResponseError(OCXError):
    """An answer that is not the documented shape (malformed JSON, a missing field)."""

    transient = True


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthExpiredError,
    403: ForbiddenError,
    404: NotFoundError,
    409: DuplicateOrderError,
    422: RejectedError,
}


def map_error(
    status: int,
    message: str,
    *,
    code: str = "",
    endpoint: str = "",
    retry_after: float | None = None,
) -> APIError:
    """The exception for an error status, OCX's code and its (already redacted) message."""
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after, code=code, endpoint=endpoint)
    if status >= 500:
        return ServerError(message, status=status, code=code, endpoint=endpoint)
    kind = _BY_STATUS.get(status, APIError)
    return kind(message, status=status, code=code, endpoint=endpoint)
