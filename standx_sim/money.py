"""Decimal parsing and formatting: every amount on the wire is a JSON string, never a float."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from standx_sim.errors import ApiError

ZERO = Decimal(0)
ONE = Decimal(1)
# Amounts produced by a division are cut to the quote asset's 9 decimals (DUSD, quote_decimals).
QUOTE_EXP = Decimal("1e-9")


def parse_decimal(value: Any, field: str, *, allow_int: bool = True) -> Decimal:
    """Parse a request decimal: a JSON string (the docs' rule) or, leniently, a JSON integer.

    Floats are refused because a float has already lost the exact value the client meant.
    """
    if isinstance(value, bool) or value is None:
        raise ApiError(400, f"{field} must be a decimal string")
    if isinstance(value, int) and allow_int:
        return Decimal(value)
    if not isinstance(value, str):
        raise ApiError(400, f"{field} must be a decimal string, got {type(value).__name__}")
    text = value.strip()
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ApiError(400, f"{field} is not a valid decimal: {value!r}") from None
    if not result.is_finite() or text.lower().startswith(("nan", "inf", "+inf", "-inf")):
        raise ApiError(400, f"{field} is not a valid decimal: {value!r}")
    return result


def fmt(value: Decimal) -> str:
    """Plain positional notation (never `1E+2`), keeping the value's own exponent."""
    if value == 0 and value.as_tuple().exponent == 0:
        return "0"
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


def fmt_opt(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def cut(value: Decimal) -> Decimal:
    """Keep exact results untouched; cut long division results to 9 decimals."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -9:
        return value.quantize(QUOTE_EXP, rounding=ROUND_HALF_UP)
    return value


def to_tick(value: Decimal, tick: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(tick, rounding=rounding)


def floor_to(value: Decimal, tick: Decimal) -> Decimal:
    return value.quantize(tick, rounding=ROUND_DOWN)


def is_multiple(value: Decimal, tick: Decimal) -> bool:
    return value % tick == 0
