"""One exception tree for everything the PerpEx client raises.

The venue's three documented error codes have their own classes (``INSUFFICIENT_MARGIN``,
``INVALID_SYMBOL``, ``ORDER_NOT_FOUND``), whatever HTTP status carries them; everything else is
classed by status. Messages never contain the API key: the client redacts every server message
with its own secrets first, and no exception keeps request headers.
"""

from __future__ import annotations

from exchange_common.errors import ClientAPIError, ClientError


class PerpExError(ClientError):
    """Base class. ``transient``: the same safe request may succeed if repeated."""


class KeyFormatError(PerpExError, ValueError):
    """The API key is not a JWT we can read (the message never echoes it)."""


class SubscriptionLimitError(PerpExError, ValueError):
    """More WebSocket subscriptions than one connection may hold (10)."""


class APIError(ClientAPIError, PerpExError):
    """The venue answered with an error: ``status`` is the HTTP status, ``code`` its own code."""


class BadRequestError(APIError):
    status = 400


class InsufficientMarginError(BadRequestError):
    code = "INSUFFICIENT_MARGIN"


class InvalidSymbolError(BadRequestError):
    code = "INVALID_SYMBOL"


class AuthenticationError(APIError):
    """401: the key is missing, invalid, revoked or expired. Re-link; never retry."""

    status = 401


class ForbiddenError(APIError):
    """403: the key may not do this (a read-only key on an order route)."""

    status = 403


class NotFoundError(APIError):
    status = 404


class OrderNotFoundError(NotFoundError):
    code = "ORDER_NOT_FOUND"


class RateLimitedError(APIError):
    """429. ``retry_after`` in seconds when the venue said, else None."""

    status = 429
    transient = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        endpoint: str = "",
    ) -> None:
        super().__init__(message, status=429, code=code, endpoint=endpoint)
        self.retry_after = retry_after


class ServerError(APIError):
    status = 500
    transient = True


class UnavailableError(PerpExError):
    """The venue could not be reached (refused, DNS, TLS, reset)."""

    transient = True


class RequestTimeoutError(UnavailableError):
    """No answer within the client's timeout."""


class BadResponseError(PerpExError):
    """An answer we cannot read (not JSON, or not a shape we know)."""

    transient = True


_BY_CODE: dict[str, type[APIError]] = {
    "INSUFFICIENT_MARGIN": InsufficientMarginError,
    "INVALID_SYMBOL": InvalidSymbolError,
    "ORDER_NOT_FOUND": OrderNotFoundError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
}


def map_error(
    status: int, code: str, message: str, *, endpoint: str = "", retry_after: float | None = None
) -> APIError:
    """The exception for an error answer: by the venue's code first, then by HTTP status."""
    if code in _BY_CODE:
        return _BY_CODE[code](message, status=status, code=code, endpoint=endpoint)
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after, code=code, endpoint=endpoint)
    if status >= 500:
        return ServerError(message, status=status, code=code, endpoint=endpoint)
    kind = _BY_STATUS.get(status, APIError)
    return kind(message, status=status, code=code, endpoint=endpoint)
