"""OCX's name and its errors in the venue-neutral tree, shared by the public and account sides
of the adapter (:mod:`venues.ocx`, :mod:`venues.ocx_account`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ocx import errors as ocx_errors
from venues import errors

KEY = "ocx"
NAME = "OCX"


def translate(exc: ocx_errors.OCXError) -> errors.VenueError:
    """The client's exception in the venue-neutral tree (its message is already redacted)."""
    message = exc.message
    if isinstance(exc, ocx_errors.AuthExpiredError):
        return errors.AuthExpired(NAME, message)
    if isinstance(exc, ocx_errors.ForbiddenError):
        return errors.Forbidden(NAME, message)
    if isinstance(exc, ocx_errors.NotFoundError):
        return errors.NotFound(NAME, message)
    if isinstance(exc, ocx_errors.DuplicateOrderError):
        return errors.Duplicate(NAME, message)
    if isinstance(exc, ocx_errors.RateLimitedError):
        return errors.RateLimited(NAME, message, exc.retry_after)
    if isinstance(exc, ocx_errors.ServerError | ocx_errors.UnavailableError):
        return errors.Unavailable(NAME, message)
    if isinstance(exc, ocx_errors.BadResponseError):
        return errors.Unavailable(NAME, "the answer was not in the documented shape")
    if isinstance(exc, ocx_errors.KeyFormatError | ocx_errors.LoginError):
        return errors.BadInput(NAME, message)
    if isinstance(exc, ocx_errors.APIError):
        return errors.Rejected(NAME, _plain_rejection(exc), exc.code or str(exc.status))
    return errors.Rejected(NAME, message)


_REJECTIONS = {
    "INSUFFICIENT_MARGIN": "not enough margin in the perps bucket for this order",
    "INSUFFICIENT_BALANCE": "the source bucket does not hold that much",
    "POST_ONLY_WOULD_CROSS": "a post-only order would have traded at once",
    "REDUCE_ONLY_WOULD_INCREASE": "a reduce-only order would have grown the position",
    "MARKET_CLOSED": "the market is closed (a dated future past its expiry)",
}


def _plain_rejection(exc: ocx_errors.APIError) -> str:
    return _REJECTIONS.get(exc.code, exc.message)


@contextmanager
def translated() -> Iterator[None]:
    """Raise the client's errors as :class:`venues.errors.VenueError`."""
    try:
        yield
    except ocx_errors.OCXError as exc:
        raise translate(exc) from exc
