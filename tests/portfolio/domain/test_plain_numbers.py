"""The one parser of typed trading amounts: plain digits and at most one point."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portfolio.domain.plain_numbers import plain_decimal, plain_integer

SIGNS_AND_SPACES = ["+1", "-1", " 1", "1 ", " 1 ", "1 000", "1\n"]
NOT_DECIMAL_NOTATION = ["1e3", "1E3", "1_0", "1,5", "1.2.3", ".", "", "NaN", "Infinity", "0x10"]
OTHER_DIGITS = ["\u0661\u0662", "\u0663.\u0665", "\uff11\uff12", "\u00b2"]
SLIPS = [*SIGNS_AND_SPACES, *NOT_DECIMAL_NOTATION, *OTHER_DIGITS, "9" * 41]


@pytest.mark.parametrize("text", SLIPS)
def test_anything_but_plain_digits_and_one_point_is_refused(text: str) -> None:
    assert plain_decimal(text) is None


@pytest.mark.parametrize(
    ("text", "value"), [("0.5", D("0.5")), ("12", D(12)), (".5", D("0.5")), ("5.", D(5))]
)
def test_plain_decimals_are_read_exactly(text: str, value: D) -> None:
    assert plain_decimal(text) == value


@given(st.decimals(min_value=0, max_value=10**12, places=8, allow_nan=False))
def test_every_non_negative_decimal_written_plainly_reads_back(value: D) -> None:
    assert plain_decimal(f"{value:f}") == value


@pytest.mark.parametrize("text", ["10", "1", "0"])
def test_plain_integers_are_read(text: str) -> None:
    assert plain_integer(text) == int(text)


@pytest.mark.parametrize("text", ["1.0", "1e1", "+5", " 5", "\u0661\u0660", "1_0", "9" * 19, ""])
def test_a_whole_number_is_plain_digits_only(text: str) -> None:
    assert plain_integer(text) is None
