"""Decimals on the wire: strings in, strings out, never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from perpex_sim.errors import invalid

ZERO = Decimal(0)
ONE = Decimal(1)
USDC = Decimal("0.000001")  # amounts are kept to USDC's 6 decimals where a division makes more


def parse_decimal(value: Any, name: str) -> Decimal:
    """A request decimal: a JSON string or integer (a float has already lost the value)."""
    if isinstance(value, bool) or value is None:
        raise invalid(f"{name} must be a decimal string")
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise invalid(f"{name} must be a decimal string, not {type(value).__name__}")
    try:
        result = Decimal(value.strip())
    except InvalidOperation:
        raise invalid(f"{name} is not a decimal: {value[:40]!r}") from None
    if not result.is_finite():
        raise invalid(f"{name} is not a finite decimal")
    return result


def fmt(value: Decimal) -> str:
    """Plain notation (``100.5``, never ``1.005E+2``), trailing zeros dropped."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fmt_opt(value: Decimal | None) -> str | None:
    return None if value is None else fmt(value)


def usdc(value: Decimal) -> Decimal:
    return value.quantize(USDC)
