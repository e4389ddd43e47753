"""Decimal parsing and formatting: every amount on the wire is a JSON string, never a float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from ocx_sim.errors import bad_request

ZERO = Decimal(0)
ONE = Decimal(1)
CENT = Decimal("0.000001")  # USDC has 6 decimals: amounts produced by arithmetic are cut to it


def parse_decimal(value: Any, field: str, *, positive: bool = False) -> Decimal:
    """A request decimal: a JSON string (the docs' rule) or, leniently, a JSON integer.

    Floats are refused: a float has already lost the exact value the client meant.
    """
    if isinstance(value, bool) or value is None:
        raise bad_request(f"{field} must be a decimal string")
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise bad_request(f"{field} is not a decimal: {value[:40]!r}") from None
    else:
        raise bad_request(f"{field} must be a decimal string, not {type(value).__name__}")
    if not result.is_finite():
        raise bad_request(f"{field} is not a finite decimal")
    if positive and result <= 0:
        raise bad_request(f"{field} must be positive")
    return result


def usdc(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """Plain positional notation without trailing zeros (never ``1E+2``)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def fmt_opt(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)
