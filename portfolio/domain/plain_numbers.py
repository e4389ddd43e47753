"""Amounts as a trader types them: ASCII digits and at most one decimal point, nothing else.

``Decimal()`` and ``int()`` take far more: ``1e3``, ``1_0``, ``+1``, `` 1 `` and the digits of any
script (``١٢`` is 12). In an order form each of those is one slip away from another order than
the one meant, so every amount a trading form reads goes through this one parser.
"""

from __future__ import annotations

import re
from decimal import Decimal

ADVICE = "Use plain digits, like 0.5 (no sign, spaces, exponent or separators)."
# Longer than any price or quantity a venue takes (30 digits and a point), and parsed quickly.
MAX_CHARS = 40
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_INTEGER = re.compile(r"[0-9]{1,18}")


def plain_decimal(text: str) -> Decimal | None:
    """``text`` as a Decimal if it is plain digits with at most one point; else None."""
    if len(text) > MAX_CHARS or not _DECIMAL.fullmatch(text):
        return None
    return Decimal(text)


def plain_integer(text: str) -> int | None:
    """``text`` as an int if it is plain digits (at most 18, so it fits a bigint); else None."""
    return int(text) if _INTEGER.fullmatch(text) else None
