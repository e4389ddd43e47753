"""Every StandX error lands in the venue-neutral tree, and each reads as a sentence."""

from __future__ import annotations

import pytest

from standx import errors as sx
from venues import errors
from venues.standx import translate


@pytest.mark.parametrize(
    ("raised", "kind", "transient"),
    [
        (sx.TokenExpiredError("token expired"), errors.AuthExpired, False),
        (sx.AuthenticationError("invalid token"), errors.AuthExpired, False),
        (sx.InvalidSignatureError("invalid body signature"), errors.Forbidden, False),
        (sx.SignatureExpiredError("signature has expired"), errors.Forbidden, False),
        (sx.NotFoundError("order not found"), errors.NotFound, False),
        (sx.RateLimitedError("slow down", retry_after=2.0), errors.RateLimited, True),
        (sx.ServerError("bad gateway", status=502), errors.Unavailable, True),
        (sx.UnavailableError("connection refused"), errors.Unavailable, True),
        (sx.BadResponseError("not JSON"), errors.Unavailable, True),
        (sx.BadRequestError("alo order rejected", status=400), errors.Rejected, False),
        (sx.KeyFormatError("not a key"), errors.BadInput, False),
    ],
)
def test_each_client_error_maps_to_one_neutral_kind(
    raised: sx.StandXError, kind: type[errors.VenueError], transient: bool
) -> None:
    translated = translate(raised)
    assert type(translated) is kind
    assert translated.transient is transient
    assert translated.venue == "StandX"


def test_a_rate_limit_keeps_its_retry_after_and_a_rejection_its_code() -> None:
    limited = translate(sx.RateLimitedError("slow down", retry_after=2.0))
    assert isinstance(limited, errors.RateLimited)
    assert limited.retry_after == 2.0
    rejected = translate(sx.BadRequestError("alo order rejected", status=400))
    assert isinstance(rejected, errors.Rejected)
    assert rejected.code == "400"


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (
            errors.AuthExpired("StandX"),
            "StandX refused the account's credentials: re-link the account.",
        ),
        (
            errors.RateLimited("PerpEx"),
            "PerpEx is rate-limiting this account: wait a few seconds and try again.",
        ),
        (
            errors.Rejected("StandX", "alo order rejected"),
            "StandX rejected it: Alo order rejected.",
        ),
        (errors.Rejected("OCX"), "OCX rejected the request."),
        (errors.NotFound("StandX", ""), "StandX does not know it."),
        (
            errors.NotFound("StandX", "order not found."),
            "StandX does not know it: Order not found.",
        ),
        (errors.Duplicate("OCX"), "OCX already has this order: it was sent before."),
    ],
)
def test_plain_words_name_the_venue(error: errors.VenueError, sentence: str) -> None:
    assert errors.plain_words(error) == sentence
