"""One error tree for every venue, and the sentence a trader reads for each.

Adapters translate their client's exceptions into these; callers decide on the kind (retry a
transient error, re-link on an expired credential) and show :func:`plain_words`. Messages never
carry a credential: adapters build them from the client's own redacted messages.
"""

from __future__ import annotations


class VenueError(Exception):
    """Base class. ``transient``: the same safe request may succeed if repeated."""

    transient = False

    def __init__(self, venue: str, message: str = "") -> None:
        super().__init__(message or type(self).__name__)
        self.venue = venue  # the venue's display name, e.g. "StandX"
        self.message = message


class AuthExpired(VenueError):
    """The credential is missing, expired or revoked: the account must be re-linked."""


class Forbidden(VenueError):
    """Authenticated, but not allowed: a signature, a scope or an address the venue refused."""


class NotFound(VenueError):
    """The order, position or market does not exist (or no longer)."""


class Duplicate(VenueError):
    """The client order id was used already: the request was applied before."""


class Rejected(VenueError):
    """The venue refused the request on its merits (margin, price band, post-only...)."""

    def __init__(self, venue: str, message: str = "", code: str = "") -> None:
        super().__init__(venue, message)
        self.code = code


def unsupported(venue: str, message: str) -> Rejected:
    """The venue has no such operation (the capabilities should have kept it off the page):
    one code for every adapter, ``UNSUPPORTED``, with the venue's own sentence."""
    return Rejected(venue, message, "UNSUPPORTED")


class RateLimited(VenueError):
    """Too many requests; ``retry_after`` in seconds when the venue said."""

    transient = True

    def __init__(self, venue: str, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(venue, message)
        self.retry_after = retry_after


class Unavailable(VenueError):
    """No usable answer: unreachable, timed out, a 5xx or a malformed body."""

    transient = True


class BadInput(VenueError):
    """What the user gave cannot be used (a key or token that does not parse)."""


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return f"{text[:1].upper()}{text[1:]}." if text else ""


def plain_words(exc: VenueError) -> str:
    """The error as a sentence for the trader, naming the venue."""
    venue = exc.venue
    if isinstance(exc, AuthExpired):
        return f"{venue} refused the account's credentials: re-link the account."
    if isinstance(exc, Forbidden):
        return f"{venue} refused the request's signature or permissions: re-link the account."
    if isinstance(exc, RateLimited):
        return f"{venue} is rate-limiting this account: wait a few seconds and try again."
    if isinstance(exc, Unavailable):
        return f"{venue} did not answer; the request may not have arrived. Check the orders page."
    if isinstance(exc, Duplicate):
        return f"{venue} already has this order: it was sent before."
    reason = _sentence(exc.message)
    if isinstance(exc, NotFound):
        return f"{venue} does not know it: {reason}" if reason else f"{venue} does not know it."
    return f"{venue} rejected it: {reason}" if reason else f"{venue} rejected the request."
