"""Hyperliquid-style margin arithmetic, pure and exact (Decimal).

Notation: ``size`` is signed (negative = short), ``q = |size|``, ``s`` = +1 long / -1 short,
``mark`` the mark price, ``L`` the market's max leverage, ``l`` the position's leverage.

- Maintenance margin rate ``r = 1 / (2 L)``: half the initial margin at max leverage
  (Hyperliquid's rule). A position's maintenance margin is ``q * mark * r``.
- Initial margin of a cross position: ``q * mark / l`` (it moves with the mark). An isolated
  position holds the margin moved into it at open (``q * entry / l``), plus isolated funding.
- Scope equity: cross = cash + sum of cross uPnL; isolated = the position's margin + its uPnL.
- Margin ratio = maintenance margin / equity; liquidation when it reaches 1 (or equity <= 0).
- Liquidation price solves equity(P) = maintenance(P), everything else held still:
  isolated long ``(q*entry - M) / (q (1 - r))``, short ``(q*entry + M) / (q (1 + r))``;
  cross ``mark - s (E - MM) / (q (1 - s r))`` with E, MM the cross scope's figures now.
"""

from __future__ import annotations

from decimal import Decimal

from perpex_sim.money import ONE, ZERO


def maintenance_rate(max_leverage: int) -> Decimal:
    return ONE / Decimal(2 * max_leverage)


def sign(size: Decimal) -> int:
    return 1 if size > 0 else -1


def upnl(size: Decimal, entry: Decimal, mark: Decimal) -> Decimal:
    return size * (mark - entry)


def maintenance(size: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    return abs(size) * mark * rate


def margin_ratio(maint: Decimal, equity: Decimal) -> Decimal | None:
    """Maintenance over equity; None with nothing to maintain. Equity <= 0 is past 1."""
    if maint <= 0:
        return None
    if equity <= 0:
        return Decimal("Infinity")
    return maint / equity


def isolated_liquidation_price(
    size: Decimal, entry: Decimal, margin: Decimal, rate: Decimal
) -> Decimal | None:
    q = abs(size)
    if q == 0:
        return None
    if size > 0:
        price = (q * entry - margin) / (q * (ONE - rate))
    else:
        price = (q * entry + margin) / (q * (ONE + rate))
    return price if price > ZERO else None


def cross_liquidation_price(
    size: Decimal, mark: Decimal, equity: Decimal, maint: Decimal, rate: Decimal
) -> Decimal | None:
    q = abs(size)
    if q == 0:
        return None
    s = sign(size)
    price = mark - s * (equity - maint) / (q * (ONE - s * rate))
    return price if price > ZERO else None
