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
    """The client's exception in the venue-neutral tree, in the words of :data:`WORDS` where
    OCX gave a code (its message is already redacted)."""
    message = words(exc)
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
        return errors.Rejected(NAME, message, exc.code or str(exc.status))
    return errors.Rejected(NAME, message)


# OCX's error codes as a trader reads them: the one map from OCX's refusals to sentences.
WORDS = {
    # orders and transfers
    "INSUFFICIENT_MARGIN": "not enough margin in the perps bucket for this order",
    "INSUFFICIENT_BALANCE": "the source bucket does not hold that much",
    "POST_ONLY_WOULD_CROSS": "a post-only order would have traded at once",
    "REDUCE_ONLY_WOULD_INCREASE": "a reduce-only order would have grown the position",
    "MARKET_CLOSED": "the market is closed (a dated future past its expiry)",
    "ORDER_NOT_OPEN": "the order is no longer open",
    # signing in
    "NONCE_MISMATCH": "OCX no longer expects this sign-in (it was used, or took too long): "
    "start again",
    "INVALID_SIWE_MESSAGE": "OCX did not take the sign-in message (a clock far off, or another "
    "OCX host than the one configured): start again",
    "INVALID_SIGNATURE": "the signature is not the wallet's: sign with the account you chose",
    # credentials
    "SESSION_EXPIRED": "the OCX sign-in session has expired: sign in with the wallet again",
    "SESSION_REVOKED": "the OCX sign-in session was ended: sign in with the wallet again",
    "INVALID_SESSION": "OCX does not know this sign-in session: sign in with the wallet again",
    "SESSION_REQUIRED": "this needs a signed-in OCX session, which this link does not hold",
    "API_KEY_REVOKED": "the API key was revoked on OCX",
    "API_KEY_EXPIRED": "the API key has expired on OCX",
    "INVALID_API_KEY": "OCX does not know this API key (mistyped, or of another OCX host)",
    "INSUFFICIENT_SCOPE": "the API key has the read scope only",
    "IP_NOT_ALLOWED": "the API key does not allow this server's IP address",
    "API_KEY_NOT_FOUND": "OCX has no such API key (revoked and removed already)",
}


def words(exc: ocx_errors.OCXError) -> str:
    """What OCX refused, in a sentence: :data:`WORDS` by its code, else its own message."""
    code = getattr(exc, "code", "")
    return WORDS.get(code, exc.message) if code else exc.message


@contextmanager
def translated() -> Iterator[None]:
    """Raise the client's errors as :class:`venues.errors.VenueError`."""
    try:
        yield
    except ocx_errors.OCXError as exc:
        raise translate(exc) from exc
